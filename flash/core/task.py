"""``Task``: a model with its loss, metrics, optimizer and outputs, that the engine can train.

Subclasses (each task's model class) build ``self.backbone`` / ``self.head`` (or ``self.model``),
set defaults, and say how raw user inputs become samples for :meth:`Task.predict`.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch

from flash._version import __version__
from flash.core.data import FEATURES, INPUT, TARGET, InputTransform
from flash.core.download import local_file
from flash.core.finetuning import get_finetuning_strategy
from flash.core.lightning_checkpoint import is_lightning_checkpoint, lightning_checkpoint_hint
from flash.core.nested import NotPlainError, apply_to_tensors, to_plain
from flash.core.optimizers import build_optimizer, build_scheduler
from flash.engine.checkpoint import load_checkpoint
from flash.engine.module import TrainingModule
from flash.errors import CheckpointError, ConfigurationError
from flash.lazy import provided

MetricsSpec = Any  # a Metric, a list of Metrics, {name: Metric}, or a function returning one of these
STAGE_METRICS = ("train_metrics", "val_metrics", "test_metrics")


def metric_name(metric: Any) -> str:
    """``MulticlassF1Score`` -> ``"f1score"``; ``Accuracy`` -> ``"accuracy"``."""
    name = re.sub(r"^(Multiclass|Multilabel|Binary)", "", type(metric).__name__)
    return name.lower()


TaskT = TypeVar("TaskT", bound="Task")


def _no_loss_fn(outputs: Any, target: Any) -> torch.Tensor:
    raise NotImplementedError("This task has no loss: pass loss_fn=... or override compute_loss().")


def _import_flash_class(path: str, *, what: str) -> type:
    module_name, _, qualname = path.partition(":")
    if not module_name.startswith("flash.") or not qualname:
        raise CheckpointError(
            f"The checkpoint names {what} {path!r}, which is not a flash class; refusing to import it."
        )
    obj: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


class Task(TrainingModule):
    """Base of every flash task. Holds loss, metrics, optimizer/scheduler by name, and hyper-parameters.

    Args:
        model: the network (tasks with ``backbone``/``head`` leave it None).
        loss_fn: a callable ``(outputs, targets) -> loss``.
        metrics: metrics with ``update``/``compute``/``reset``: flash.core.metrics' or torchmetrics' (logged as
            ``{stage}_{name}``).
        learning_rate: passed to the optimizer as ``lr``.
        optimizer: a torch.optim name (``"adamw"``), ``(name, kwargs)``, or a callable.
        lr_scheduler: a scheduler name, ``(name, kwargs[, {"interval": "step"}])``, or a callable.
    """

    default_learning_rate = 1e-3
    input_transform_cls: type[InputTransform] = InputTransform

    def __init__(
        self,
        *,
        model: torch.nn.Module | None = None,
        loss_fn: Callable | None = None,
        metrics: MetricsSpec = None,
        learning_rate: float | None = None,
        optimizer: Any = "adam",
        lr_scheduler: Any = None,
    ) -> None:
        super().__init__()
        if not hasattr(self, "hparams"):
            self.hparams: dict[str, Any] = {}
        self.model = model
        self.loss_fn: Callable = loss_fn if loss_fn is not None else _no_loss_fn
        self.learning_rate = learning_rate if learning_rate is not None else self.default_learning_rate
        self.optimizer = optimizer
        self.lr_scheduler = lr_scheduler
        self.__dict__["_metrics_spec"] = metrics  # not a submodule; {stage}_metrics are built from it on first use,
        # so prediction never builds them
        self.input_transform: InputTransform = self.input_transform_cls()
        self._frozen_bn_eval: list[torch.nn.Module] = []

    # ------------------------------------------------------------------ hyper-parameters
    def save_hyperparameters(self, *, ignore: Sequence[str] = ()) -> None:
        """Record the caller's ``__init__`` arguments; the checkpoint rebuilds the task from them."""
        init_args = inspect.getargvalues(sys._getframe(1))  # the caller: a task's __init__
        hparams: dict[str, Any] = {}
        for name in init_args.args[1:] + [a for a in (init_args.varargs, init_args.keywords) if a]:
            if name in ignore or name == "__class__":
                continue
            value = init_args.locals[name]
            if name == init_args.keywords and isinstance(value, dict):
                hparams.update(value)
            else:
                hparams[name] = value
        self.hparams = hparams

    # ------------------------------------------------------------------ metrics & steps
    def __getattr__(self, name: str) -> Any:
        if name in STAGE_METRICS and "_metrics_spec" in self.__dict__ and name not in self._modules:
            metrics = self._metrics(self._metrics_spec)
            parameter = next(self.parameters(), None)
            metrics = metrics if parameter is None else metrics.to(parameter.device)
            self._modules[name] = metrics  # not add_module: its hasattr() check would come back here
            return metrics
        return super().__getattr__(name)

    @staticmethod
    def _metrics(metrics: MetricsSpec) -> torch.nn.ModuleDict:
        if callable(metrics) and not isinstance(metrics, torch.nn.Module):
            metrics = metrics()  # a factory, e.g. a task's default metrics
        if metrics is None:
            return torch.nn.ModuleDict()
        if isinstance(metrics, torch.nn.Module) and not isinstance(metrics, torch.nn.ModuleDict):
            metrics = [metrics]
        if isinstance(metrics, (list, tuple)):
            metrics = {metric_name(m): m for m in metrics}
        return torch.nn.ModuleDict({name: m.clone() for name, m in metrics.items()})

    def forward(self, x: Any) -> Any:
        if self.model is None:
            raise NotImplementedError(f"{type(self).__name__} must define forward() or pass model=...")
        return self.model(x)

    def compute_loss(self, outputs: Any, target: Any) -> torch.Tensor:
        return self.loss_fn(outputs, target)

    def metric_inputs(self, outputs: Any, target: Any) -> tuple[Any, Any]:
        """What the metrics' ``update`` gets (e.g. probabilities and integer targets)."""
        return outputs, target

    forward_features: Callable[[Any], torch.Tensor] | None = None  # tasks whose features can be cached split
    forward_head: Callable[[torch.Tensor], Any] | None = None  # forward into these two (flash.core.feature_cache)

    def _shared_step(self, batch: dict, stage: str) -> dict[str, Any]:
        """``{"loss", "preds", "target"}``; ``preds``/``target`` as the metrics take them (None: unused)."""
        target = batch[TARGET]
        if FEATURES in batch and self.forward_head is not None:  # a cached backbone's features
            outputs = self.forward_head(batch[FEATURES])
        else:
            outputs = self(batch[INPUT])
        loss = self.compute_loss(outputs, target)
        metrics = {"train": self.train_metrics, "val": self.val_metrics, "test": self.test_metrics}[stage]
        preds = None
        if len(metrics) or stage != "train":  # validation returns them: the run's report reads them
            detached = outputs.detach() if isinstance(outputs, torch.Tensor) else outputs
            preds, target = self.metric_inputs(detached, target)
            for metric in metrics.values():
                metric.update(preds, target)
        batch_size = len(target) if hasattr(target, "__len__") else None
        self.log(f"{stage}_loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=True, batch_size=batch_size)
        return {"loss": loss, "preds": preds, "target": target}

    def _log_metrics(self, stage: str) -> None:
        metrics = {"train": self.train_metrics, "val": self.val_metrics, "test": self.test_metrics}[stage]
        for name, metric in metrics.items():
            if getattr(metric, "update_count", 1):
                self.log(f"{stage}_{name}", metric.compute(), on_step=False, on_epoch=True, prog_bar=True, batch_size=1)
            metric.reset()

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self._shared_step(batch, "train")["loss"]

    def validation_step(self, batch: dict, batch_idx: int) -> dict[str, Any]:
        """Returns ``{"loss", "preds", "target"}``; the report (``flash.reports``) collects the last pass's."""
        return self._shared_step(batch, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._shared_step(batch, "test")

    def predict_step(self, batch: dict, batch_idx: int) -> Any:
        return self(batch[INPUT])

    def on_train_epoch_end(self) -> None:
        self._log_metrics("train")

    def on_validation_epoch_end(self) -> None:
        if self.trainer is not None and self.trainer.sanity_checking:
            for metric in self.val_metrics.values():
                metric.reset()
            return
        self._log_metrics("val")

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test")

    def train(self, mode: bool = True) -> Task:
        super().train(mode)
        for module in getattr(self, "_frozen_bn_eval", []):  # finetuning with train_bn=False keeps frozen BN in eval
            module.eval()
        return self

    # ------------------------------------------------------------------ optimizers & finetuning
    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.optimizer, self.parameters(), learning_rate=self.learning_rate)
        scheduler = build_scheduler(self.lr_scheduler, optimizer, num_training_steps=self._estimated_steps())
        return optimizer if scheduler is None else {"optimizer": optimizer, "lr_scheduler": scheduler}

    def _estimated_steps(self) -> int:
        trainer = self.trainer
        if trainer is None:
            return 1000
        s = trainer.settings
        per_epoch = trainer.num_training_batches if trainer.num_training_batches != float("inf") else 1000
        by_epochs = int(per_epoch * max(1, s.max_epochs) // s.accumulate_grad_batches)
        return min(by_epochs, s.max_steps) if s.max_steps != -1 else max(1, by_epochs)

    def configure_finetune_callback(self, strategy: Any, *, train_bn: bool = False, cache_features: bool | None = None):
        return get_finetuning_strategy(strategy, train_bn=train_bn, cache_features=cache_features)

    # ------------------------------------------------------------------ outputs & prediction
    def format_predictions(self, outputs: Any, output: str) -> list:
        raise ConfigurationError(f"{type(self).__name__} does not support output={output!r}.")

    def samples_from(self, inputs: Any) -> tuple[bool, list[dict]]:
        """Turn what a user hands to :meth:`predict` into ``(was it a single input, samples)``. Tasks override this."""
        raise NotImplementedError(f"{type(self).__name__}.predict() does not know how to read {type(inputs).__name__}.")

    def predict(self, inputs: Any, *, output: str = "labels", batch_size: int = 8) -> Any:
        """Predict on raw inputs (paths, arrays, tensors, strings, ...); one result per input.

        A single input gives a single result; a list/folder gives a list.
        """
        single, samples = self.samples_from(inputs)
        transform = self.input_transform.per_sample_transform("predict")
        collate = self.input_transform.collate("predict")
        was_training = self.training
        self.eval()
        results: list = []
        with torch.no_grad():
            for start in range(0, len(samples), batch_size):
                chunk = [transform(dict(s)) if transform else dict(s) for s in samples[start : start + batch_size]]
                batch = apply_to_tensors(collate(chunk), lambda t: t.to(self.device))
                results.extend(self.format_predictions(self.predict_step(batch, 0), output))
        self.train(was_training)
        return results[0] if single else results

    def serve(self, *, host: str = "127.0.0.1", port: int = 8000, **kwargs: Any) -> None:
        """Serve this model over HTTP until stopped: a page at ``/``, ``POST /predict``, docs at ``/docs``.

        Other keyword arguments go to :func:`flash.serve.serve` (``device``, ``max_batch_size``, ...), which the
        package root provides (core sits below serve: ``flash.lazy.provided("serve")``).

        Example:
            >>> model.serve(port=8000)  # then open http://127.0.0.1:8000  # doctest: +SKIP
        """
        provided("serve")(self, host=host, port=port, **kwargs)

    # ------------------------------------------------------------------ checkpoints
    def on_fit_start(self) -> None:
        self._adopt_datamodule_transform()

    def _adopt_datamodule_transform(self) -> None:
        datamodule = getattr(self.trainer, "datamodule", None) if self.trainer is not None else None
        transform = getattr(datamodule, "transform", None)
        if isinstance(transform, InputTransform):
            self.input_transform = transform

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        hparams = {}
        for key, value in self.hparams.items():
            try:
                hparams[key] = to_plain(value, strict=True)
            except NotPlainError:  # a callable, a module, ...: rebuilt from the class defaults on load
                pass
        checkpoint["task"] = {
            "class": f"{type(self).__module__}:{type(self).__qualname__}",
            "hyper_parameters": hparams,
            "input_transform": self.input_transform.state_dict(),
            "flash_version": __version__,
        }

    @classmethod
    def load_from_checkpoint(cls, checkpoint_path: str, *, map_location: Any = "cpu", **overrides: Any) -> Task:
        """Rebuild the task from a checkpoint alone: no user code, no internet.

        ``checkpoint_path`` may be an ``http(s)://`` or ``file://`` URL: it is downloaded once to the cache
        (``$FLASH_CACHE``, default ``~/.cache/flash``).

        Example:
            >>> model = MyTask.load_from_checkpoint("model.pt")  # doctest: +SKIP
        """
        checkpoint_path = local_file(checkpoint_path)
        if is_lightning_checkpoint(checkpoint_path):
            raise CheckpointError(lightning_checkpoint_hint(checkpoint_path))
        checkpoint = load_checkpoint(checkpoint_path, map_location=map_location)
        info = checkpoint.get("task")
        if not info:
            raise CheckpointError(f"'{checkpoint_path}' holds no flash task (it was saved from a plain module).")
        own = f"{cls.__module__}:{cls.__qualname__}"
        klass = cls if info["class"] == own else _import_flash_class(info["class"], what="task")
        if not (isinstance(klass, type) and issubclass(klass, cls)):
            raise CheckpointError(
                f"'{checkpoint_path}' is a {klass.__name__} checkpoint, not a {cls.__name__} one. "
                f"Load it with {klass.__name__}.load_from_checkpoint(...)."
            )
        hparams = dict(info.get("hyper_parameters", {}))
        if "pretrained" in inspect.signature(klass.__init__).parameters:
            hparams["pretrained"] = False  # the weights come from the checkpoint, not a download
        hparams.update(overrides)
        model = klass.from_checkpoint_state(checkpoint, hparams)
        transform_state = info.get("input_transform")
        if transform_state:
            transform_cls = _import_flash_class(transform_state["class"], what="input transform")
            model.input_transform = transform_cls(**transform_state.get("kwargs", {}))
        return model.to(map_location if map_location not in (None, "cpu") else "cpu").eval()

    @classmethod
    def from_checkpoint_state(cls: type[TaskT], checkpoint: dict, hparams: dict) -> TaskT:
        """Build the task from its hyper-parameters and load the weights (tasks may extend this)."""
        model = cls(**hparams)
        model.load_state_dict(checkpoint["state_dict"])
        return model


@contextlib.contextmanager
def temporarily(obj: Any, **values: Any) -> Iterator[None]:
    """Set attributes of ``obj`` for the ``with`` block (None leaves one as it is), then restore them.

    Example:
        >>> with temporarily(model, threshold=0.3):  # doctest: +SKIP
        ...     model.predict("street.jpg")
    """
    saved = {name: getattr(obj, name) for name in values}
    for name, value in values.items():
        if value is not None:
            setattr(obj, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(obj, name, value)
