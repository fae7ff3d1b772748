"""Write the run's report page: run facts, training curves, then the sections of the task's report adapter.

Example:
    >>> write_report("flash_logs/version_0", model, datamodule, collected=callback.collected)  # doctest: +SKIP
    PosixPath('flash_logs/version_0/report/index.html')
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from flash._version import __version__
from flash.errors import DataError
from flash.reports.collect import Collected
from flash.reports.html import Page, Section


def write_report(source: Any, model: Any, datamodule: Any, *, collected: Collected,
                 folder: str | os.PathLike | None = None, timings: dict[str, float] | None = None) -> Path:
    """Write the report of ``collected`` (one validation pass) into ``folder``; returns ``index.html``'s path."""
    log_dir = Path(source.log_dir if hasattr(source, "log_dir") else source)
    for logger in getattr(source, "loggers", []):
        logger.save()  # the curves read metrics.csv: flush what the CSV logger still holds
    page = Page(f"{type(model).__name__} report", folder=Path(folder) if folder else log_dir / "report")
    _facts(page.section("Run"), source, model, datamodule, timings or {})
    _curves(page.section("Training curves"), log_dir)
    if not collected.empty:
        collected.part.sections(page, model=model)  # the task's report adapter
    else:
        page.section("Validation").text("No validation outputs were collected (no validation data, or the task's "
                                        "validation_step returns nothing the report knows).", note=True)
    return page.write()


def _facts(section: Section, source: Any, model: Any, datamodule: Any, timings: dict[str, float]) -> None:
    import torch

    hparams = getattr(model, "hparams", {}) or {}
    rows: list[list[Any]] = [["task", type(model).__name__]]
    rows += [[key, str(hparams[key])] for key in ("backbone", "head") if hparams.get(key) is not None]
    for split in ("train", "val"):
        dataset = getattr(datamodule, f"{split}_dataset", None)
        try:
            rows.append([f"{split} samples", len(dataset)])  # type: ignore[arg-type]  # None raises TypeError too
        except TypeError:  # no data for the split, or a stream of unknown length
            pass
    labels = getattr(model, "labels", None)
    if labels:
        rows.append(["classes", len(labels)])
    if hasattr(source, "current_epoch"):
        rows += [["epochs", source.current_epoch], ["optimizer steps", source.global_step],
                 ["device", str(source.device)], ["precision", str(source.settings.precision)]]
    if timings.get("fit"):
        rows.append(["fit time (s)", round(timings["fit"], 2)])
    rows += [["flash", __version__], ["torch", torch.__version__], ["python", platform.python_version()]]
    metrics = getattr(source, "callback_metrics", {}) or {}
    rows += [[name, float(value)] for name, value in sorted(metrics.items()) if name.startswith("val_")]
    section.table(["fact", "value"], rows, csv_name="run.csv")


def _curves(section: Section, log_dir: Path) -> None:
    """Two panels, losses and validation metrics, per epoch: cheap to draw whatever the task logs."""
    from flash.core.plots import read_metrics
    from flash.core.reporting.svg import Panel, line_charts

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
    panels = [Panel(title, dict(sorted(group.items())), xlabel="step")
              for title, group in (("losses", losses), ("metrics", metrics)) if group]
    if not panels:
        section.text("No curves: the log holds no per-epoch metrics yet.", note=True)
        return
    section.svg(line_charts(panels), "curves.svg", alt="training and validation curves")
