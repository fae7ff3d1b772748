"""The progress bar: tqdm in a terminal or notebook, silent otherwise (logs, CI)."""

from __future__ import annotations

import math
import sys
from time import monotonic as _monotonic

from flash.engine.callbacks import Callback


def _has_widgets() -> bool:
    """tqdm's notebook bar needs ipywidgets; without it a text bar is used instead of crashing."""
    import importlib.util

    return importlib.util.find_spec("ipywidgets") is not None


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


def _postfix(metrics: dict[str, float]) -> str:
    """``loss=0.231, val_acc=0.9`` (tqdm's own set_postfix does the same with more work per redraw)."""
    return ", ".join(
        f"{name}={value:.3g}" if isinstance(value, float) else f"{name}={value}" for name, value in metrics.items()
    )


class ProgressBar(Callback):
    """One bar per epoch showing the loss and ``prog_bar=True`` metrics.

    ``enable=None`` shows it only where someone can watch: a terminal or a notebook.
    The bar is redrawn every ``refresh_rate`` batches but at most once per ``min_interval``
    seconds (a redraw costs more than a small training step; 5 a second look smooth), and always
    at the epoch's end.
    """

    def __init__(self, enable: bool | None = None, refresh_rate: int = 1, min_interval: float = 0.2) -> None:
        self.enable = enable
        self.refresh_rate = max(1, refresh_rate)
        self.min_interval = min_interval
        self._bar = None
        self._last_refresh = -math.inf

    @property
    def active(self) -> bool:
        if self.enable is not None:
            return self.enable
        return _in_notebook() or (hasattr(sys.stderr, "isatty") and sys.stderr.isatty())

    def _new(self, trainer, total, desc):
        if not self.active or not trainer.is_global_zero:
            return None
        from tqdm import tqdm

        if _in_notebook() and _has_widgets():
            from tqdm.notebook import tqdm
        # the width is read once per bar (each epoch has its own): reading it at every redraw costs a failing ioctl
        return tqdm(total=total, desc=desc, leave=True, file=sys.stderr)

    def _close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def on_train_epoch_start(self, trainer, module):
        self._close()
        self._bar = self._new(trainer, trainer.num_training_batches, f"Epoch {trainer.current_epoch}")

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self._bar is None or (batch_idx + 1) % self.refresh_rate:
            return
        now = _monotonic()
        if now - self._last_refresh >= self.min_interval:
            self._last_refresh = now
            self._bar.n = batch_idx + 1
            self._bar.set_postfix_str(_postfix(trainer.progress_bar_metrics), refresh=True)

    def on_train_epoch_end(self, trainer, module):
        if self._bar is not None:
            self._bar.n = trainer.fit_state.batches_seen  # the count is only set when the bar is redrawn
            self._bar.set_postfix_str(_postfix(trainer.progress_bar_metrics), refresh=False)  # close() draws it
        self._close()

    def _eval_start(self, trainer, desc):
        if trainer.state_stage != "fit":
            self._close()
            self._bar = self._new(trainer, None, desc)

    def _eval_batch(self, trainer):
        if self._bar is not None and trainer.state_stage != "fit":
            self._bar.update(1)

    def on_validation_start(self, trainer, module):
        self._eval_start(trainer, "Validation")

    def on_validation_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self._eval_batch(trainer)

    def on_test_start(self, trainer, module):
        self._eval_start(trainer, "Testing")

    def on_test_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self._eval_batch(trainer)

    def on_predict_start(self, trainer, module):
        self._eval_start(trainer, "Predicting")

    def on_predict_batch_end(self, trainer, module, outputs, batch, batch_idx):
        self._eval_batch(trainer)

    def on_validation_end(self, trainer, module):
        if trainer.state_stage != "fit":
            self._close()

    on_test_end = on_validation_end
    on_predict_end = on_validation_end
