"""``ReportCallback``: the Trainer adds it by default (``Trainer(report=False)`` turns it off).

It keeps the last validation pass's outputs (through ``on_validation_batch_end``) and, when
``fit``/``finetune``/``validate`` ends, writes ``<log_dir>/report/index.html`` on rank 0.

Example:
    >>> trainer = flash.Trainer(max_epochs=1, callbacks=[ReportCallback()], report=False)  # doctest: +SKIP
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

from flash.engine.callbacks import Callback
from flash.reports.collect import Collected
from flash.reports.write import write_report


class ReportCallback(Callback):
    """Collect the last validation outputs and write the run's HTML report at the end of fit / validate.

    Args:
        folder: where to write (default: ``<trainer.log_dir>/report``).
        write: False only collects (``flash.report`` writes the page itself).
    """

    def __init__(self, folder: str | None = None, *, write: bool = True) -> None:
        self.folder = folder
        self.write = write
        self.collected = Collected()
        self.path: Path | None = None  # the last report written
        self.seconds = {"fit": 0.0, "collect": 0.0, "write": 0.0}
        self._started = 0.0
        self._pending = Collected()

    def on_fit_start(self, trainer, module) -> None:
        self._started = time.perf_counter()
        self.seconds = {"fit": 0.0, "collect": 0.0, "write": 0.0}

    def on_validation_epoch_start(self, trainer, module) -> None:
        self._pending = Collected()

    def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx: int) -> None:
        if trainer.sanity_checking or outputs is None:
            return
        start = time.perf_counter()
        self._pending.add(module, outputs, batch)
        self.seconds["collect"] += time.perf_counter() - start

    def on_validation_epoch_end(self, trainer, module) -> None:
        if not trainer.sanity_checking:
            self.collected = self._pending

    def on_fit_end(self, trainer, module) -> None:
        self.seconds["fit"] = time.perf_counter() - self._started

    def teardown(self, trainer, module, stage: str) -> None:
        if not self.write or stage not in ("fit", "validate"):
            return
        start = time.perf_counter()
        collected = self.collected
        if trainer.world_size > 1:  # every process calls the collective; rank 0 writes what all of them saw
            collected = Collected.merged(trainer.strategy.all_gather_object(collected))
        if not trainer.is_global_zero:
            return
        try:
            self.path = write_report(trainer, module, getattr(trainer, "datamodule", None), collected=collected,
                                     folder=self.folder, timings=self.seconds)
        except ImportError as err:  # an optional library a section needs is missing: training succeeded
            warnings.warn(f"No training report was written: {err}", stacklevel=2)
            return
        self.seconds["write"] = time.perf_counter() - start
