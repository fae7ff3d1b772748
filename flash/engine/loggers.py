"""Experiment loggers: CSV (default), TensorBoard; Weights & Biases and MLflow when installed.

Each writes into ``<root>/<name>/version_<n>/``; only rank 0 writes.
"""

from __future__ import annotations

import csv
import math
import os
import time
from pathlib import Path
from typing import Any

from flash.errors import invalid_choice, require


def _next_version(root: Path) -> int:
    versions = [int(p.name.split("_")[1]) for p in root.glob("version_*") if p.name.split("_")[1].isdigit()]
    return max(versions, default=-1) + 1


class Logger:
    """A logger that records nothing; subclasses override what they write."""

    def __init__(
        self, save_dir: str | os.PathLike = ".", name: str = "flash_logs", version: int | str | None = None
    ) -> None:
        self.save_dir = Path(save_dir)
        self.name = name
        self._version = version

    @property
    def version(self) -> int | str:
        if self._version is None:
            self._version = _next_version(self.save_dir / self.name)
        return self._version

    @property
    def log_dir(self) -> Path:
        version = self.version if isinstance(self.version, str) else f"version_{self.version}"
        return self.save_dir / self.name / version

    def log_hyperparams(self, params: dict[str, Any]) -> None: ...
    def log_metrics(self, metrics: dict[str, float], step: int) -> None: ...

    def save(self) -> None:
        """Write what is buffered (the Trainer calls it when fit/validate/test/predict ends)."""

    def finalize(self, status: str = "success") -> None:
        """End of training: flush and close. ``status`` (``"success"``, ``"failed"``, ...) as Lightning's loggers
        take it; flash's loggers close the same way whatever it says."""


class CSVLogger(Logger):
    """Append metrics to ``metrics.csv`` (one row per step; columns grow as new names appear).

    A run that continues in an existing version folder (``flash train --resume``) keeps the rows
    already in its ``metrics.csv`` and appends after them.

    Rows reach the file at most ``flush_interval`` seconds after they are logged, and all of
    them when training ends (also when it fails): a file write per logged step would cost more
    than a small model's training step.
    """

    def __init__(self, save_dir=".", name="flash_logs", version=None, flush_interval: float = 1.0) -> None:
        super().__init__(save_dir, name, version)
        self.flush_interval = flush_interval
        self._rows: list[dict[str, Any]] = []
        self._columns: list[str] = ["epoch", "step"]
        self._written_columns: list[str] = []  # the header of the file on disk
        self._written_rows = 0
        self._last_flush = -math.inf
        self._adopted = False  # the rows of an existing metrics.csv were taken over

    @property
    def metrics_file(self) -> Path:
        return self.log_dir / "metrics.csv"

    def log_hyperparams(self, params):
        import yaml

        self.log_dir.mkdir(parents=True, exist_ok=True)
        safe = {
            k: v if isinstance(v, (int, float, str, bool, type(None), list, dict)) else repr(v)
            for k, v in params.items()
        }
        (self.log_dir / "hparams.yaml").write_text(yaml.safe_dump(safe, sort_keys=True))

    def log_metrics(self, metrics, step):
        row = {"step": step, **metrics}
        for key in row:
            if key not in self._columns:
                self._columns.append(key)
        self._rows.append(row)
        if time.monotonic() - self._last_flush >= self.flush_interval:
            self._flush()

    def save(self):
        if self._written_rows < len(self._rows):
            self._flush()

    def finalize(self, status: str = "success"):
        self.save()

    def _flush(self) -> None:
        """Append the new rows; rewrite the file (atomically) only when a column was added.

        Appending gives the same bytes, and avoids ext4's synchronous data write on every
        rename over an existing file (~5 ms, more than many training steps).
        """
        path = self.metrics_file
        if not self._adopted:
            self._adopt_existing(path)
        if self._written_columns == self._columns and path.is_file():
            with open(path, "a", newline="") as handle:
                csv.DictWriter(handle, fieldnames=self._columns).writerows(self._rows[self._written_rows :])
        else:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".csv.tmp")
            with open(tmp, "w", newline="") as handle:
                writer = csv.DictWriter(handle, fieldnames=self._columns)
                writer.writeheader()
                writer.writerows(self._rows)
            os.replace(tmp, path)
            self._written_columns = list(self._columns)
        self._written_rows = len(self._rows)
        self._last_flush = time.monotonic()


    def _adopt_existing(self, path: Path) -> None:
        """Put the rows already in ``path`` first, as written: new rows are appended after them."""
        self._adopted = True
        if not path.is_file():
            return
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
        self._rows[:0] = rows
        self._columns = columns + [c for c in self._columns if c not in columns]
        self._written_columns, self._written_rows = columns, self._written_rows + len(rows)


class TensorBoardLogger(Logger):
    """Write TensorBoard event files (``pip install tensorboard``)."""

    def __init__(self, save_dir=".", name="flash_logs", version=None) -> None:
        super().__init__(save_dir, name, version)
        self._writer = None

    @property
    def writer(self):
        if self._writer is None:
            require("tensorboard", "all", purpose="TensorBoardLogger")
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(log_dir=str(self.log_dir), flush_secs=5)  # its own thread writes
        return self._writer

    def log_hyperparams(self, params):
        text = "\n".join(f"{k}: {v!r}" for k, v in sorted(params.items()))
        self.writer.add_text("hparams", text)

    def log_metrics(self, metrics, step):
        for key, value in metrics.items():
            if key != "epoch":
                self.writer.add_scalar(key, value, step)

    def save(self):
        if self._writer is not None:
            self._writer.flush()

    def finalize(self, status: str = "success"):
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class WandbLogger(Logger):
    """Log to Weights & Biases (``pip install wandb``)."""

    def __init__(self, save_dir=".", name="flash_logs", version=None, project: str = "flash", **init_kwargs) -> None:
        super().__init__(save_dir, name, version)
        self._wandb = require("wandb", None, purpose="WandbLogger")
        self._run = self._wandb.init(project=project, dir=str(save_dir), **init_kwargs)

    def log_hyperparams(self, params):
        self._run.config.update({k: repr(v) for k, v in params.items()}, allow_val_change=True)

    def log_metrics(self, metrics, step):
        self._run.log(dict(metrics), step=step)

    def finalize(self, status: str = "success"):
        self._run.finish()


class MLFlowLogger(Logger):
    """Log to MLflow (``pip install mlflow``)."""

    def __init__(self, save_dir=".", name="flash_logs", version=None, experiment_name: str = "flash") -> None:
        super().__init__(save_dir, name, version)
        self._mlflow = require("mlflow", None, purpose="MLFlowLogger")
        self._mlflow.set_experiment(experiment_name)
        self._run = self._mlflow.start_run()

    def log_hyperparams(self, params):
        self._mlflow.log_params({k: repr(v)[:250] for k, v in params.items()})

    def log_metrics(self, metrics, step):
        self._mlflow.log_metrics({k: float(v) for k, v in metrics.items()}, step=step)

    def finalize(self, status: str = "success"):
        self._mlflow.end_run()


LOGGERS = {"csv": CSVLogger, "tensorboard": TensorBoardLogger, "wandb": WandbLogger, "mlflow": MLFlowLogger}


def get_loggers(logger: Any, default_root_dir: str | os.PathLike) -> list[Logger]:
    """``True`` -> CSV; ``False``/``None`` -> none; a name, a Logger, or a list of either."""
    if logger is True:
        return [CSVLogger(default_root_dir)]
    if logger in (False, None):
        return []
    items = logger if isinstance(logger, (list, tuple)) else [logger]
    out = []
    for item in items:
        if isinstance(item, str):
            if item not in LOGGERS:
                raise invalid_choice("logger", item, LOGGERS)
            item = LOGGERS[item](default_root_dir)
        out.append(item)
    return out
