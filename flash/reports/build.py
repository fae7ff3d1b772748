"""``flash.report(...)``: the run's HTML report, from a trainer's last validation or on demand.

Example:
    >>> trainer.fit(model, datamodule=datamodule)  # doctest: +SKIP
    >>> flash.report(trainer)  # the report the fit already wrote, written again  # doctest: +SKIP
    PosixPath('lightning_logs/version_0/report/index.html')
    >>> flash.report("flash_logs/version_3", model, datamodule)  # runs one validation pass  # doctest: +SKIP
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from flash.errors import ConfigurationError, DataError, require
from flash.reports.collect import Collected
from flash.reports.html import Page, Section


def report(source: Any, model: Any = None, datamodule: Any = None, *, folder: str | os.PathLike | None = None) -> Path:
    """Write ``<log dir>/report/index.html`` and return its path.

    Args:
        source: a Trainer (its last validation pass is reused when it ran with the default report callback)
            or a log folder (``.../version_0``: its ``metrics.csv`` gives the curves).
        model: the task; needed unless ``source`` is a trainer that already validated it.
        datamodule: its validation data; with a log folder, one validation pass runs to collect the outputs.
        folder: where to write (default: ``<log dir>/report``).
    """
    from flash.reports.callback import ReportCallback

    trainer = source if hasattr(source, "callbacks") and hasattr(source, "log_dir") else None
    if trainer is not None:
        callback = next((c for c in trainer.callbacks if isinstance(c, ReportCallback)), None)
        model = model if model is not None else trainer.model
        datamodule = datamodule if datamodule is not None else trainer.datamodule
        if callback is not None and callback.collected.kind is not None and model is trainer.model:
            return write_report(trainer, model, datamodule, collected=callback.collected, folder=folder,
                                timings=callback.seconds)
    if model is None or datamodule is None:
        raise ConfigurationError("flash.report needs the model and the datamodule to validate, unless it is given a "
                                 f"trainer that already did. Received: model={model!r}, datamodule={datamodule!r}")
    import flash

    collector = ReportCallback(write=False)
    log_dir = Path(trainer.log_dir if trainer is not None else source)
    validator = flash.Trainer(logger=False, enable_progress_bar=False, enable_checkpointing=False, report=False,
                              callbacks=[collector], default_root_dir=log_dir)
    validator.validate(model, datamodule=datamodule)
    return write_report(trainer or log_dir, model, datamodule, collected=collector.collected,
                        folder=folder, timings=collector.seconds)


def write_report(source: Any, model: Any, datamodule: Any, *, collected: Collected,
                 folder: str | os.PathLike | None = None, timings: dict[str, float] | None = None) -> Path:
    """Write the report of ``collected`` (one validation pass) into ``folder``; returns ``index.html``'s path."""
    require("matplotlib", "plot", purpose="training reports")
    log_dir = Path(source.log_dir if hasattr(source, "log_dir") else source)
    for logger in getattr(source, "loggers", []):
        logger.save()  # the curves read metrics.csv: flush what the CSV logger still holds
    page = Page(f"{type(model).__name__} report", folder=Path(folder) if folder else log_dir / "report")
    _facts(page.section("Run"), source, model, datamodule, timings or {})
    _curves(page.section("Training curves"), log_dir)
    kind = collected.kind
    if kind == "classification":
        from flash.reports.classification import classification_sections

        classification_sections(page, collected, labels=getattr(model, "labels", None))
    elif kind == "detection":
        from flash.reports.detection import detection_sections

        detection_sections(page, collected, labels=getattr(model, "labels", None))
    elif kind == "speech":
        from flash.reports.speech import speech_sections

        speech_sections(page, collected)
    else:
        page.section("Validation").text("No validation outputs were collected (no validation data, or the task's "
                                        "validation_step returns nothing the report knows).", note=True)
    return page.write()


def _facts(section: Section, source: Any, model: Any, datamodule: Any, timings: dict[str, float]) -> None:
    import torch

    import flash

    hparams = getattr(model, "hparams", {}) or {}
    rows: list[list[Any]] = [["task", type(model).__name__]]
    rows += [[key, str(hparams[key])] for key in ("backbone", "head") if hparams.get(key) is not None]
    for split in ("train", "val"):
        dataset = getattr(datamodule, f"{split}_dataset", None)
        if dataset is not None and hasattr(dataset, "__len__"):
            rows.append([f"{split} samples", len(dataset)])
    labels = getattr(model, "labels", None)
    if labels:
        rows.append(["classes", len(labels)])
    if hasattr(source, "current_epoch"):
        rows += [["epochs", source.current_epoch], ["optimizer steps", source.global_step],
                 ["device", str(source.device)], ["precision", str(source.settings.precision)]]
    if timings.get("fit"):
        rows.append(["fit time (s)", round(timings["fit"], 2)])
    rows += [["flash", flash.__version__], ["torch", torch.__version__], ["python", platform.python_version()]]
    metrics = getattr(source, "callback_metrics", {}) or {}
    rows += [[name, float(value)] for name, value in sorted(metrics.items()) if name.startswith("val_")]
    section.table(["fact", "value"], rows, csv_name="run.csv")


def _curves(section: Section, log_dir: Path) -> None:
    """Two panels, losses and validation metrics, per epoch: cheap to draw whatever the task logs."""
    from matplotlib.figure import Figure

    from flash.core.plots import read_metrics

    try:
        series = read_metrics(log_dir)
    except DataError as err:
        section.text(f"No curves: {err}", note=True)
        return
    series = {n: v for n, v in series.items() if not n.endswith("_step")}
    # metrics: val_* and the train_* that have a val_ twin (accuracy, f1score); the rest are losses (and sub-losses)
    is_metric = {n: "loss" not in n and (n.startswith("val_") or f"val_{n[6:]}" in series) for n in series}
    losses = {n: v for n, v in series.items() if not is_metric[n]}
    metrics = {n: v for n, v in series.items() if is_metric[n]}
    panels = [(title, group) for title, group in (("losses", losses), ("metrics", metrics)) if group]
    if not panels:
        section.text("No curves: the log holds no per-epoch metrics yet.", note=True)
        return
    figure = Figure(figsize=(5.2 * len(panels), 3.4))
    figure.subplots_adjust(left=0.08 / len(panels) + 0.04, right=0.98, bottom=0.14, top=0.9, wspace=0.25)
    for ax, (title, group) in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels):
        for name, points in sorted(group.items()):
            steps, values = zip(*points)
            ax.plot(steps, values, marker="o" if len(steps) < 30 else None, markersize=3, label=name)
        ax.set(title=title, xlabel="step")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    section.figure(figure, "curves.png", alt="training and validation curves")
