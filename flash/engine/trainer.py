"""``flash.Trainer``: fit / validate / test / predict / finetune in one readable loop.

Example:
    >>> import flash
    >>> trainer = flash.Trainer(max_epochs=3, precision="32-true")
    >>> # trainer.fit(model, datamodule=datamodule)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import torch
from torch.utils.data import DataLoader

from flash.engine.callbacks import Callback, ModelCheckpoint
from flash.engine.checkpoint import dump_state
from flash.engine.compile import compile_in_place
from flash.engine.defaults import default_callbacks
from flash.engine.loggers import get_loggers
from flash.engine.progress import ProgressBar
from flash.engine.run import RunContext
from flash.engine.settings import TrainerSettings
from flash.engine.state import FitState
from flash.errors import ConfigurationError
from flash.fabric.accelerator import resolve_accelerator
from flash.fabric.checkpoint import save_on_rank_zero
from flash.fabric.fabric import Fabric
from flash.fabric.precision import Precision, PrecisionName, get_precision
from flash.fabric.strategy import Strategy, StrategyName


def _datamodule_first(loaders: Any, datamodule: Any) -> tuple[Any, Any]:
    """Lightning accepts a DataModule where loaders go (``trainer.fit(model, dm)``): move it to ``datamodule``."""
    is_datamodule = not isinstance(loaders, DataLoader) and any(
        callable(getattr(loaders, hook, None)) for hook in ("train_dataloader", "predict_dataloader"))
    if is_datamodule and datamodule is None:
        return None, loaders
    return loaders, datamodule


class Trainer:
    """Train, evaluate and predict with any module that implements the step hooks.

    Arguments follow Lightning 2 (``accelerator``, ``devices``, ``precision``, ``strategy``,
    ``max_epochs``, ``accumulate_grad_batches``, ...); see :class:`TrainerSettings`. ``compile=True`` runs the
    model's forward through ``torch.compile`` (off by default: see :mod:`flash.engine.compile`). ``report=True``
    adds the callback registered for the ``"report"`` flag (:mod:`flash.engine.defaults`): ``flash.reports``
    registers one that writes ``<log_dir>/report/index.html`` after ``fit``/``finetune``/``validate``.
    Lightning 1.x spellings (``gpus=``, ``num_devices=``, ...) are translated with a warning
    (``flash.engine.lightning1``). A DataModule may be passed positionally, as in Lightning:
    ``trainer.fit(model, datamodule)``.

    Public attributes (read them; the loops update them):

    - ``settings``: the checked loop arguments (:class:`TrainerSettings`).
    - ``fabric``: the :class:`~flash.fabric.Fabric` the Trainer runs on (devices, precision, processes,
      collectives); ``accelerator`` (``"cpu"``, ``"cuda"``, ``"mps"``), ``device_indices``, ``num_nodes``,
      ``strategy``, ``precision``, ``device``, ``world_size``, ``global_rank``, ``is_global_zero`` read it.
    - ``callbacks``: the Trainer's callbacks (the user's, then ModelCheckpoint, ProgressBar and the flag
      defaults). A model's ``configure_callbacks()`` and ``finetune``'s strategy join them for one run only.
    - ``loggers`` / ``logger``, ``log_dir``, ``default_root_dir``.
    - ``fit_state`` (where the fit loop is: ``current_epoch``, ``global_step``, ``should_stop`` are views of it),
      ``state_stage`` (``"fit"``, ``"validate"``, ... while running, else None), ``sanity_checking``.
    - ``callback_metrics``, ``logged_metrics``, ``progress_bar_metrics``: the latest metric values.
    - ``optimizers``, ``lr_scheduler_configs``, ``num_training_batches``, ``num_val_batches``, ``datamodule``.
    - ``model`` / ``lightning_module``: the model of the current or last run; ``run``: the current
      :class:`RunContext` (None between runs); ``resume_hint``: how a stopped run says to resume.
    """

    def __init__(
        self,
        *,
        accelerator: str = "auto",
        devices: int | str | list[int] = "auto",
        num_nodes: int = 1,
        precision: PrecisionName | int | Precision = "32-true",
        strategy: StrategyName | Strategy = "auto",
        callbacks: Callback | list[Callback] | None = None,
        logger: Any = True,
        max_epochs: int | None = None,
        min_epochs: int | None = None,
        max_steps: int = -1,
        max_time: Any = None,
        limit_train_batches: int | float | None = None,
        limit_val_batches: int | float | None = None,
        limit_test_batches: int | float | None = None,
        limit_predict_batches: int | float | None = None,
        fast_dev_run: bool | int = False,
        val_check_interval: int | float | None = None,
        check_val_every_n_epoch: int | None = 1,
        num_sanity_val_steps: int | None = None,
        accumulate_grad_batches: int = 1,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: Literal["norm", "value"] | None = None,
        deterministic: bool = False,
        log_every_n_steps: int | None = None,
        enable_progress_bar: bool | None = None,
        enable_checkpointing: bool | None = None,
        default_root_dir: str | os.PathLike | None = None,
        on_nonfinite_loss: Literal["raise", "skip"] = "raise",
        report: bool = True,
        compile: bool | dict[str, Any] = False,
        **lightning1: Any,
    ) -> None:
        if lightning1:  # Lightning 1.x spellings (gpus=, ...): warn, translate, start again
            given = {k: v for k, v in locals().items() if k not in ("self", "lightning1")}
            from flash.engine.lightning1 import upgrade_arguments

            Trainer.__init__(self, **upgrade_arguments(lightning1, given))
            return
        s = self.settings = TrainerSettings.build(locals())
        device_type = resolve_accelerator(accelerator)
        if strategy == "ddp_spawn":
            raise ConfigurationError(
                "The Trainer starts its processes by re-running the script: use strategy='ddp'. 'ddp_spawn' runs a "
                "function in new processes: flash.fabric.Fabric(strategy='ddp_spawn').launch(fn). "
                "Received: strategy='ddp_spawn'"
            )
        # devices, precision, strategy, collectives and checkpoint I/O: one Fabric (the precision object is built
        # here: the Trainer, unlike Fabric's string flag, also runs '16-mixed' on CPU)
        self.fabric = Fabric(accelerator=device_type, devices=devices, num_nodes=num_nodes, strategy=strategy,
                             precision=get_precision(precision, device_type=device_type))
        self.default_root_dir = Path(default_root_dir or os.getcwd())
        self.loggers = [] if s.fast_dev_run else get_loggers(logger, self.default_root_dir)
        user_callbacks = list(callbacks) if isinstance(callbacks, (list, tuple)) else [callbacks] if callbacks else []
        if s.enable_checkpointing and not any(isinstance(c, ModelCheckpoint) for c in user_callbacks):
            user_callbacks.append(ModelCheckpoint())
        if not any(isinstance(c, ProgressBar) for c in user_callbacks):
            user_callbacks.append(ProgressBar(enable=s.enable_progress_bar))
        for default in default_callbacks({"report": s.report}):  # e.g. the run's HTML report (flash.reports)
            if not any(isinstance(c, type(default)) for c in user_callbacks):
                user_callbacks.append(default)
        self.callbacks: list[Callback] = user_callbacks
        if deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        self.sanity_checking = False
        self.state_stage: str | None = None
        self.callback_metrics: dict[str, float] = {}
        self.logged_metrics: dict[str, float] = {}
        self.progress_bar_metrics: dict[str, float] = {}
        self.optimizers: list[torch.optim.Optimizer] = []
        self.lr_scheduler_configs: list = []
        self.num_training_batches: float = 0
        self.num_val_batches: float = 0
        self.datamodule: Any = None
        self.fit_state = FitState()  # where the fit loop is; each fit starts a new one
        # how a run stopped by a signal says to resume ("{path}": the checkpoint); the CLI sets its own
        self.resume_hint = "trainer.fit(..., ckpt_path={path!r})"
        self._launched = False
        self._model: torch.nn.Module | None = None
        self._context: RunContext | None = None  # the current run's; None between runs

    # ------------------------------------------------------------------ properties
    @property
    def current_epoch(self) -> int:
        """The current epoch (0-based); after ``fit``, the next one. A view of ``fit_state.epoch``."""
        return self.fit_state.epoch

    @property
    def global_step(self) -> int:
        """Optimizer steps taken in this fit. A view of ``fit_state.global_step``."""
        return self.fit_state.global_step

    @property
    def should_stop(self) -> bool:
        """Set it to True (e.g. in a callback) to end training once ``min_epochs`` are done."""
        return self.fit_state.should_stop

    @should_stop.setter
    def should_stop(self, value: bool) -> None:
        self.fit_state.should_stop = value

    @property
    def accelerator(self) -> str:
        """``"cpu"``, ``"cuda"`` or ``"mps"`` (the Fabric's)."""
        return self.fabric.accelerator

    @property
    def device_indices(self) -> list[int]:
        return self.fabric.device_indices

    @property
    def num_nodes(self) -> int:
        return self.fabric.num_nodes

    @property
    def strategy(self) -> Strategy:
        return self.fabric.strategy

    @property
    def precision(self) -> Precision:
        return self.fabric.precision

    @property
    def is_global_zero(self) -> bool:
        return self.strategy.is_global_zero

    @property
    def world_size(self) -> int:
        return self.strategy.world_size

    @property
    def global_rank(self) -> int:
        return self.strategy.rank

    @property
    def device(self) -> torch.device:
        return self.strategy.device

    @property
    def logger(self):
        return self.loggers[0] if self.loggers else None

    @property
    def log_dir(self) -> Path:
        if self.loggers:
            return Path(self.loggers[0].log_dir)
        return self.default_root_dir

    @property
    def lightning_module(self):
        return self._model

    @property
    def model(self):
        return self._model

    @property
    def run(self) -> RunContext | None:
        """The current run's context (its callbacks, hooks, where ``self.log`` writes); None between runs."""
        return self._context

    @property
    def checkpoint_callback(self) -> ModelCheckpoint | None:
        return next((c for c in self._current_run().callbacks if isinstance(c, ModelCheckpoint)), None)

    @property
    def _extra_callbacks(self) -> list[Callback]:
        """The callbacks the current run added (the model's and finetune's); none between runs."""
        return self._context.extra_callbacks if self._context is not None else []

    def _current_run(self) -> RunContext:
        """The current run, or between runs one over the last model and the Trainer's own callbacks."""
        return self._context if self._context is not None else RunContext(self, self._model)

    # ------------------------------------------------------------------ public API
    def fit(self, model: torch.nn.Module, train_dataloaders: Any = None, val_dataloaders: Any = None, *,
            datamodule: Any = None, ckpt_path: str | os.PathLike | None = None) -> None:
        """Train ``model``; resume everything from ``ckpt_path`` (a path or ``"last"``) if given."""
        self._fit(model, train_dataloaders, val_dataloaders, datamodule=datamodule, ckpt_path=ckpt_path)

    def _fit(self, model, train_dataloaders, val_dataloaders, *, datamodule, ckpt_path, extra_callbacks=()) -> None:
        from flash.engine.loops import run_fit

        train_dataloaders, datamodule = _datamodule_first(train_dataloaders, datamodule)
        self.datamodule = datamodule
        self._run("fit", model, lambda run: run_fit(run, train_dataloaders, val_dataloaders, datamodule, ckpt_path),
                  extra_callbacks=extra_callbacks)

    def finetune(self, model: torch.nn.Module, train_dataloaders: Any = None, val_dataloaders: Any = None, *,
                 datamodule: Any = None, strategy: Any = "no_freeze", train_bn: bool = False,
                 cache_features: bool | None = None, ckpt_path: str | os.PathLike | None = None) -> None:
        """Fit with a finetuning strategy (``"no_freeze"``, ``"freeze"``, ``("freeze_unfreeze", 2)``, ...).

        The model turns ``strategy`` into a callback through ``configure_finetune_callback``;
        a Callback object is used as it is. A callback with ``finetune_loaders(model, train_dataloaders,
        val_dataloaders, datamodule)`` may return ``(train, val)`` loaders to train on instead (e.g. a frozen
        backbone's cached features: ``cache_features``, see ``flash.core.feature_cache``).
        """
        train_dataloaders, datamodule = _datamodule_first(train_dataloaders, datamodule)
        if isinstance(strategy, Callback):
            callback = strategy
        elif hasattr(model, "configure_finetune_callback"):
            options = {"train_bn": train_bn} if cache_features is None else {"train_bn": train_bn,
                                                                               "cache_features": cache_features}
            callback = model.configure_finetune_callback(strategy, **options)
        else:
            raise ConfigurationError(
                f"{type(model).__name__} does not define configure_finetune_callback(strategy, train_bn), so "
                f"strategy={strategy!r} cannot be applied. Pass a Callback, or use trainer.fit(...)."
            )
        replaced = getattr(callback, "finetune_loaders", lambda *args: None)(model, train_dataloaders, val_dataloaders,
                                                                          datamodule)
        if replaced is not None:
            train_dataloaders, val_dataloaders = replaced
        self._fit(model, train_dataloaders, val_dataloaders, datamodule=datamodule, ckpt_path=ckpt_path,
                  extra_callbacks=[callback] if callback is not None else [])

    def validate(self, model: torch.nn.Module | None = None, dataloaders: Any = None, *, datamodule: Any = None,
                 ckpt_path: str | os.PathLike | None = None, verbose: bool = False) -> list[dict[str, float]]:
        """Run the validation loop once; return ``[metrics]``."""
        from flash.engine.evaluation import run_evaluate

        model = model or self._model
        dataloaders, datamodule = _datamodule_first(dataloaders, datamodule)
        self.datamodule = datamodule
        return self._run("validate", model,
                         lambda run: run_evaluate(run, "validate", dataloaders, datamodule, ckpt_path))

    def test(self, model: torch.nn.Module | None = None, dataloaders: Any = None, *, datamodule: Any = None,
             ckpt_path: str | os.PathLike | None = None, verbose: bool = False) -> list[dict[str, float]]:
        """Run the test loop once; return ``[metrics]``."""
        from flash.engine.evaluation import run_evaluate

        model = model or self._model
        dataloaders, datamodule = _datamodule_first(dataloaders, datamodule)
        self.datamodule = datamodule
        return self._run("test", model, lambda run: run_evaluate(run, "test", dataloaders, datamodule, ckpt_path))

    def predict(self, model: torch.nn.Module | None = None, dataloaders: Any = None, *, datamodule: Any = None,
                output: Any = None, return_predictions: bool = True,
                ckpt_path: str | os.PathLike | None = None) -> list | None:
        """Predict batch by batch; with several processes every rank gets all predictions in dataset order.

        ``output`` (e.g. ``"labels"``) is applied per batch by the model's ``format_predictions``.
        """
        from flash.engine.predict_loop import run_predict

        model = model or self._model
        dataloaders, datamodule = _datamodule_first(dataloaders, datamodule)
        self.datamodule = datamodule
        return self._run("predict", model, lambda run: run_predict(run, dataloaders, datamodule, output,
                                                                   return_predictions, ckpt_path))

    def save_checkpoint(self, filepath: str | os.PathLike, weights_only: bool = False) -> None:
        """Save a checkpoint (collective: every process must call it; rank 0 writes atomically)."""
        if self._model is None:
            raise ConfigurationError("save_checkpoint() needs a model: call fit/validate/test/predict first.")
        checkpoint = dump_state(self._current_run(), weights_only=weights_only)
        save_on_rank_zero(checkpoint, filepath, self.strategy)  # every process raises if rank 0's write fails

    # ------------------------------------------------------------------ logging
    def log_metrics(self, metrics: dict[str, float], *, step: int, every_n: bool = False) -> None:
        """Send metrics to every logger (rank 0 only); ``every_n`` honours ``log_every_n_steps``."""
        if (every_n and step % self.settings.log_every_n_steps) or not metrics or not self.is_global_zero:
            return
        self.logged_metrics.update(metrics)
        for logger in self.loggers:
            logger.log_metrics({"epoch": self.current_epoch, **metrics}, step)

    # ------------------------------------------------------------------ running
    def _run(self, stage: str, model: torch.nn.Module | None, body: Callable[[RunContext], Any], *,
             extra_callbacks: Sequence[Callback] = ()) -> Any:
        """Run ``body`` on a new :class:`RunContext` for ``model``; it is dropped when the run ends."""
        if model is None:
            raise ConfigurationError(f"trainer.{stage}() needs a model. Received: model=None")
        self._launch()
        self.state_stage = stage
        self._model = model
        run = self._context = RunContext(self, model, extra_callbacks=extra_callbacks)
        object.__setattr__(model, "_trainer", self)
        compile_in_place(model, self.settings.compile)
        try:
            return body(run)
        except BaseException as exc:
            run.hooks.call("on_exception", exc)
            raise
        finally:
            self.state_stage = None
            self._context = None  # the model's and finetune's callbacks end with their run
            for logger in self.loggers:
                if stage == "fit":
                    logger.finalize()
                else:
                    logger.save()

    def _launch(self) -> None:
        if not self._launched:
            self.fabric.launch()
            self._launched = True
            if self.strategy.rank != 0:
                self.loggers = []
