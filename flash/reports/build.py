"""``flash.report(...)``: the run's HTML report, from a trainer's last validation or on demand.

Example:
    >>> trainer.fit(model, datamodule=datamodule)  # doctest: +SKIP
    >>> flash.report(trainer)  # the report the fit already wrote, written again  # doctest: +SKIP
    PosixPath('lightning_logs/version_0/report/index.html')
    >>> flash.report("flash_logs/version_3", model, datamodule)  # runs one validation pass  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flash.errors import ConfigurationError
from flash.reports.callback import ReportCallback
from flash.reports.write import write_report

__all__ = ["report", "write_report"]


def report(source: Any, model: Any = None, datamodule: Any = None, *, folder: str | os.PathLike | None = None) -> Path:
    """Write ``<log dir>/report/index.html`` and return its path.

    Args:
        source: a Trainer (its last validation pass is reused when it ran with the default report callback)
            or a log folder (``.../version_0``: its ``metrics.csv`` gives the curves).
        model: the task; needed unless ``source`` is a trainer that already validated it.
        datamodule: its validation data; with a log folder, one validation pass runs to collect the outputs.
        folder: where to write (default: ``<log dir>/report``).
    """
    trainer = source if hasattr(source, "callbacks") and hasattr(source, "log_dir") else None
    if trainer is not None:
        callback = next((c for c in trainer.callbacks if isinstance(c, ReportCallback)), None)
        model = model if model is not None else trainer.model
        datamodule = datamodule if datamodule is not None else trainer.datamodule
        if callback is not None and not callback.collected.empty and model is trainer.model:
            return write_report(trainer, model, datamodule, collected=callback.collected, folder=folder,
                                timings=callback.seconds)
    if model is None or datamodule is None:
        raise ConfigurationError("flash.report needs the model and the datamodule to validate, unless it is given a "
                                 f"trainer that already did. Received: model={model!r}, datamodule={datamodule!r}")
    from flash.engine.trainer import Trainer

    collector = ReportCallback(write=False)
    log_dir = Path(trainer.log_dir if trainer is not None else source)
    validator = Trainer(logger=False, enable_progress_bar=False, enable_checkpointing=False, report=False,
                        callbacks=[collector], default_root_dir=log_dir)
    validator.validate(model, datamodule=datamodule)
    return write_report(trainer or log_dir, model, datamodule, collected=collector.collected,
                        folder=folder, timings=collector.seconds)
