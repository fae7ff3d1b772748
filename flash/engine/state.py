"""``FitState``: everything the fit loop knows about where it is, in one object it owns.

Callbacks read it as ``trainer.fit_state`` (``trainer.current_epoch``, ``trainer.global_step`` and
``trainer.should_stop`` are views of it); a checkpoint stores its ``state_dict()`` whole under
``"loops"``, so a run resumes exactly where it stopped, mid-epoch included.

Example:
    >>> state = FitState(epoch=2, global_step=30, batches_seen=5)
    >>> FitState.from_checkpoint(state.state_dict()).batches_seen
    5
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from flash.engine.results import LoggedResults


@dataclass
class FitState:
    """Where the fit loop is. Saved: the first seven fields; the others live for one run only.

    Attributes:
        epoch: the current epoch (0-based); after ``fit`` the next one.
        global_step: optimizer steps taken.
        batches_seen: batches of the current epoch already trained on.
        epoch_finished: the current epoch's last batch has run (the next one starts at ``epoch + 1``).
        val_pending: a validation is due after the batch that just ended (a checkpoint saved in
            ``on_train_batch_end`` resumes with it).
        window_finite: every loss of the current gradient accumulation window was finite.
        results: what ``self.log`` recorded in this training epoch (its epoch means so far).
        optimizer_stepped: the batch that just ended closed an accumulation window and stepped.
        should_stop: set by a callback (e.g. EarlyStopping) to end training after ``min_epochs``.
        time_up: ``max_time`` has run out (decided after each optimizer step, by every process together).
        start_time: ``time.monotonic()`` when training started (``max_time`` counts from it).
    """

    epoch: int = 0
    global_step: int = 0
    batches_seen: int = 0
    epoch_finished: bool = False
    val_pending: bool = False
    window_finite: bool = True
    results: LoggedResults = field(default_factory=LoggedResults)
    optimizer_stepped: bool = False
    should_stop: bool = False
    time_up: bool = False
    start_time: float = field(default_factory=time.monotonic)

    def done(self, settings: Any) -> bool:
        """The one stop condition: whether training ends now (checked between epochs and after batches)."""
        s = settings
        if s.max_steps != -1 and self.global_step >= s.max_steps:
            return True
        if self.should_stop and self.epoch >= s.min_epochs:
            return True
        if self.time_up:
            return True
        return s.max_epochs != -1 and self.epoch >= s.max_epochs

    def next_epoch(self) -> None:
        """Move on after a finished epoch."""
        self.epoch, self.batches_seen, self.epoch_finished = self.epoch + 1, 0, False

    def state_dict(self) -> dict[str, Any]:
        """The saved fields, as plain values (``results`` is this process's)."""
        return {"epoch": self.epoch, "global_step": self.global_step, "batches_seen": self.batches_seen,
                "epoch_finished": self.epoch_finished, "val_pending": self.val_pending,
                "window_finite": self.window_finite, "results": self.results.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume from ``state``: a finished epoch resumes at the next one's start, an unfinished one
        mid-epoch with its pending validation and metric sums. Checkpoints of format version 1 hold
        no ``window_finite`` (they were saved at window ends) and may hold no ``results``."""
        self.global_step, self.epoch_finished = state["global_step"], False
        if state["epoch_finished"]:
            self.epoch, self.batches_seen, self.val_pending, self.window_finite = state["epoch"] + 1, 0, False, True
            self.results = LoggedResults()
            return
        self.epoch, self.batches_seen = state["epoch"], state["batches_seen"]
        self.val_pending = state.get("val_pending", False)
        self.window_finite = state.get("window_finite", True)
        results = state.get("results")
        self.results = LoggedResults.from_state(results) if results and self.batches_seen else LoggedResults()

    @classmethod
    def from_checkpoint(cls, state: dict[str, Any]) -> FitState:
        fit_state = cls()
        fit_state.load_state_dict(state)
        return fit_state

