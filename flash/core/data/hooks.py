"""Lightning Flash's ``InputTransform`` hooks on flash's :class:`~flash.core.data.InputTransform`.

A Lightning-style subclass overrides zero-argument hooks that return callables, optionally per stage
(``train_``, ``val_``, ``test_``, ``predict_``) and per key (``input_``, ``target_``)::

    class MyTransform(InputTransform):          # flash.core.data.io.input_transform.InputTransform
        image_size: int = 32                     # dataclass fields become transform_kwargs

        def per_sample_transform(self):
            return ApplyToKeys("input", torchvision.transforms.ToTensor())

        def train_per_batch_transform_on_device(self):
            return mixup

``InputTransform.__init_subclass__`` calls :func:`adapt` on every subclass: it finds such hooks and
installs flash's ``per_sample_transform(stage)`` / ``collate(stage)`` built from them. Per-sample
hooks run in the DataLoader after the parent class's own per-sample transform (``per_sample_transform``,
then ``input_``/``target_per_sample_transform``); ``collate`` (default:
the parent's), then ``per_batch_transform``, then ``per_batch_transform_on_device`` run on each
batch. (flash runs the ``_on_device`` batch hooks before the batch moves to the device: the same
result, computed on the CPU.) A method whose name looks like a hook flash does not know raises.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

from flash.errors import ConfigurationError

STAGE_PREFIXES = ("train_", "val_", "test_", "predict_")
SAMPLE_HOOKS = ("per_sample_transform", "input_per_sample_transform", "target_per_sample_transform")
BATCH_HOOKS = ("collate", "per_batch_transform", "input_per_batch_transform", "target_per_batch_transform",
               "per_batch_transform_on_device", "input_per_batch_transform_on_device",
               "target_per_batch_transform_on_device")
HOOKS = SAMPLE_HOOKS + BATCH_HOOKS
_LOOKS_LIKE_A_HOOK = re.compile(r"transf|collat|per_sample|per_batch|on_device")
_FLASH_METHODS = ("per_sample_transform", "collate", "state_dict", "settings")


def _zero_arg(fn: Any) -> bool:
    try:
        return callable(fn) and len(inspect.signature(fn).parameters) == 1  # just self
    except (TypeError, ValueError):
        return False


def _lightning_hooks(cls: type) -> dict[str, Callable]:
    """The Lightning-style hooks ``cls`` defines itself: ``{name: function}``; raises on unknown hook-like names."""
    found = {}
    for name, fn in vars(cls).items():
        if name.startswith("_") or not callable(fn) or not _LOOKS_LIKE_A_HOOK.search(name):
            continue
        bare = name[len(next((p for p in STAGE_PREFIXES if name.startswith(p)), "")):]
        if name in _FLASH_METHODS and not _zero_arg(fn):
            continue  # flash's own spelling: per_sample_transform(self, stage), collate(self, stage)
        if bare not in HOOKS:
            raise ConfigurationError(
                f"{cls.__name__}.{name} looks like an InputTransform hook but flash does not know it, so it would "
                f"never be called. Known hooks (each optionally prefixed with train_/val_/test_/predict_): "
                f"{', '.join(HOOKS)}. Rename it, or make it private (_{name}). Received: {cls.__name__}.{name}"
            )
        found[name] = fn
    return found


def adapt(cls: type) -> None:
    """Give ``cls`` flash's ``per_sample_transform(stage)``/``collate(stage)`` if it defines Lightning-style hooks."""
    own = _lightning_hooks(cls)
    inherited = getattr(cls, "_lightning_hook_functions", {})
    if not own:
        return
    hooks = {**inherited, **own}
    parent: Any = next(base for base in cls.__mro__[1:] if not vars(base).get("_lightning_hook_functions"))
    setattr(cls, "_lightning_hook_functions", hooks)  # noqa: B010
    setattr(cls, "per_sample_transform", lambda self, stage: _sample_pipeline(self, stage, hooks, parent))  # noqa: B010
    setattr(cls, "collate", lambda self, stage: _batch_pipeline(self, stage, hooks, parent))  # noqa: B010


def _hook(transform: Any, hooks: dict[str, Callable], stage: str, name: str) -> Callable | None:
    fn = hooks.get(f"{stage}_{name}") or hooks.get(name)
    return fn(transform) if fn is not None else None


def _sample_pipeline(transform: Any, stage: str, hooks: dict[str, Callable], parent: Any) -> Callable[[dict], dict]:
    from flash.core.data.transforms import ApplyToKeys

    steps = [parent.per_sample_transform(transform, stage), _hook(transform, hooks, stage, "per_sample_transform")]
    steps += [ApplyToKeys(key, fn) for key, fn in (
        ("input", _hook(transform, hooks, stage, "input_per_sample_transform")),
        ("target", _hook(transform, hooks, stage, "target_per_sample_transform"))) if fn is not None]
    return _chain([s for s in steps if s is not None])


def _batch_pipeline(transform: Any, stage: str, hooks: dict[str, Callable], parent: Any) -> Callable[[list], Any]:
    from flash.core.data.transforms import ApplyToKeys

    steps = [_hook(transform, hooks, stage, "collate") or parent.collate(transform, stage)]
    for hook in ("per_batch_transform", "per_batch_transform_on_device"):
        steps += [_hook(transform, hooks, stage, hook)]
        steps += [ApplyToKeys(key, fn) for key, fn in (
            ("input", _hook(transform, hooks, stage, f"input_{hook}")),
            ("target", _hook(transform, hooks, stage, f"target_{hook}"))) if fn is not None]
    return _chain([s for s in steps if s is not None])


def _chain(steps: list[Callable]) -> Callable:
    def run(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return run
