"""``TrainingModule``: an ``nn.Module`` with the hooks the engine drives and ``self.log``.

The engine drives any module that has ``training_step`` and ``configure_optimizers``;
subclassing ``TrainingModule`` adds ``self.log``, ``self.trainer`` and no-op hooks.

Example:
    >>> import torch, flash
    >>> class Regressor(flash.TrainingModule):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.layer = torch.nn.Linear(4, 1)
    ...     def training_step(self, batch, batch_idx):
    ...         x, y = batch
    ...         loss = torch.nn.functional.mse_loss(self.layer(x), y)
    ...         self.log("train_loss", loss)
    ...         return loss
    ...     def configure_optimizers(self):
    ...         return torch.optim.SGD(self.parameters(), lr=0.1)
"""

from __future__ import annotations

from typing import Any

import torch


class TrainingModule(torch.nn.Module):
    """Base class for models the engine trains. Override the steps you need."""

    _trainer = None

    @property
    def trainer(self):
        return self._trainer

    @property
    def current_epoch(self) -> int:
        return self._trainer.current_epoch if self._trainer is not None else 0

    @property
    def global_step(self) -> int:
        return self._trainer.global_step if self._trainer is not None else 0

    @property
    def device(self) -> torch.device:
        for tensor in self.parameters():
            return tensor.device
        return torch.device("cpu")

    def log(
        self,
        name: str,
        value: Any,
        *,
        on_step: bool | None = None,
        on_epoch: bool | None = None,
        prog_bar: bool = False,
        sync_dist: bool = False,
        batch_size: int | None = None,
    ) -> None:
        """Record a metric. Defaults, as in Lightning: per step in ``training_step`` and the training batch
        hooks; per epoch (a batch-size weighted mean) everywhere else, ``on_train_epoch_end`` included."""
        run = self._trainer.run if self._trainer is not None else None
        if run is not None:  # outside a fit / validate / test / predict there is nowhere to log to
            run.log(name, value, on_step, on_epoch, prog_bar, sync_dist, batch_size)

    def log_dict(self, metrics: dict[str, Any], **kwargs: Any) -> None:
        for name, value in metrics.items():
            self.log(name, value, **kwargs)

    # Steps the engine calls; training_step and configure_optimizers are needed to fit.
    def training_step(self, batch: Any, batch_idx: int) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement training_step(batch, batch_idx).")

    def configure_optimizers(self) -> Any:
        raise NotImplementedError(f"{type(self).__name__} does not implement configure_optimizers().")

    def configure_callbacks(self) -> list:
        """Callbacks the model brings with it (added to the Trainer's)."""
        return []
