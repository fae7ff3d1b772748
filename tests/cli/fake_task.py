"""A fake task for testing the ``flash`` command's own logic in milliseconds: its checkpoint loads without torch
weights, it predicts ``"len<N>"`` for a text of N characters, and it has a ``write`` adapter (``fake_task``) or not
(``fake_nowrite``).

Two environment switches drive runs that fail or stop at a known batch, bounded by batches, never by time:
``FLASH_FAKE_BLOCK_AFTER=N`` makes the N+1-th ``predict`` call wait forever (to be SIGKILLed once N batches are
written); ``FLASH_FAKE_FAIL_ON=TEXT`` raises a DataError naming the input TEXT.

Installed into the task list through the public lookup (``flash.tasks.ENTRIES`` / ``TASKS``): with pytest's
``monkeypatch`` in process (:func:`install`), or for a subprocess with :func:`main`
(``python -m tests.cli.fake_task predict ...``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

from flash.core.entry import Demo, TaskEntry
from flash.errors import DataError

HERE = "tests.cli.fake_task"  # also when run as __main__: checkpoints name this module


class FakeTask(torch.nn.Module):
    """Loads from any flash checkpoint that names it; predicts from the text alone."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    @classmethod
    def load_from_checkpoint(cls, path: Any, **kwargs: Any) -> FakeTask:
        return cls()

    def predict(self, inputs: list[Any], batch_size: int | None = None, output: str | None = None) -> list[Any]:
        self.calls += 1
        block_after = int(os.environ.get("FLASH_FAKE_BLOCK_AFTER", "0"))
        if block_after and self.calls > block_after:
            while True:  # the test kills this process now; it has written exactly `block_after` batches
                time.sleep(0.05)
        fail_on = os.environ.get("FLASH_FAKE_FAIL_ON")
        if fail_on is not None and fail_on in inputs:
            raise DataError(f"Cannot read input '{fail_on}': a fake failure. Received: {fail_on}")
        if output == "big":  # a large prediction, to show results are not kept in memory
            return ["x" * 10_000 for _ in inputs]
        return [f"len{len(str(text))}" for text in inputs]


def predicted(text: str) -> str:
    """What :class:`FakeTask` predicts for ``text``."""
    return f"len{len(text)}"


def write(prediction: Any, *, source: Any, folder: Path) -> list[Path]:
    """The ``write`` adapter: one ``.txt`` file per input, named after a hash of the input."""
    path = Path(folder) / f"{hashlib.sha1(str(source).encode()).hexdigest()[:12]}.txt"
    path.write_text(f"{source}\t{prediction}\n")
    return [path]


ENTRY = TaskEntry(name="fake_task", model=f"{HERE}:FakeTask", data=f"{HERE}:FakeTask",
                  demo=Demo(datamodule=f"{HERE}:FakeTask"), extra="", summary="a fake task for CLI tests",
                  expects="texts", adapters={"write": f"{HERE}:write"})
NO_WRITE = dataclasses.replace(ENTRY, name="fake_nowrite", model=f"{HERE}:FakeNoWrite", adapters={})


class FakeNoWrite(FakeTask):
    """The same task, without a ``write`` adapter."""


def save(path: Path, entry: TaskEntry = ENTRY) -> Path:
    """A flash checkpoint of the fake task ``entry``."""
    from flash.engine.checkpoint import save_checkpoint

    return save_checkpoint({"task": {"class": entry.model, "hyper_parameters": {}}, "state_dict": {}}, path)


def install(monkeypatch: Any) -> None:
    """Add the fake tasks to flash's task list for one test."""
    import flash.tasks

    entries = (*flash.tasks.ENTRIES, ENTRY, NO_WRITE)
    monkeypatch.setattr(flash.tasks, "ENTRIES", entries)
    monkeypatch.setattr(flash.tasks, "TASKS", {entry.name: entry for entry in entries})


def main(argv: list[str]) -> int:
    """``flash`` with the fake tasks installed (for subprocess tests)."""
    import flash.tasks
    from flash.cli import main as flash_main

    flash.tasks.ENTRIES = (*flash.tasks.ENTRIES, ENTRY, NO_WRITE)
    flash.tasks.TASKS = {entry.name: entry for entry in flash.tasks.ENTRIES}
    return flash_main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
