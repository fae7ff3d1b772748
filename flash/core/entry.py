"""What a task package tells the rest of flash about itself: one ``TaskEntry`` in its ``entry.py``.

An entry names its model and data classes, its demo, its pip extra, the file types its readers accept
and how to recognise its data on disk. Classes are named as ``"module:attr"`` strings and imported only
when used, so importing every entry imports no torch (``flash --help`` and ``flash list tasks`` stay fast).

Example:
    >>> entry = TaskEntry(
    ...     name="my_task", model="my_pkg.model:MyTask", data="my_pkg.data:MyData",
    ...     demo=Demo(datamodule="my_pkg.demo:demo_datamodule", model={"backbone": "tiny"}, trainer={"max_epochs": 1}),
    ...     extra="image", summary="does my task", expects="a folder of my files")
    >>> entry.demo.model["backbone"]
    'tiny'
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, NamedTuple

from flash.errors import ConfigurationError, close_matches, install_hint

#: The adapters a task entry may provide, and what each is for (said when a task lacks one). Each value of
#: ``TaskEntry.adapters`` is a ``"module:attr"`` string inside the task's own package; the all-task packages
#: call these instead of naming tasks. ARCHITECTURE.md, "Adding a task", documents each adapter's interface.
ADAPTERS: dict[str, str] = {
    "serve": "serving (decoding a served input and encoding its prediction)",
    "export": "export to ONNX/TorchScript",
    "onnx": "predicting from an exported .onnx file",
    "report": "training reports beyond the curves",
    "inspect": "`flash data inspect`",
    "write": "writing predictions as files (`flash predict --output FOLDER`)",
}


class Detected(NamedTuple):
    """What ``TaskEntry.detect`` found: the ``from_*`` constructor to call, its arguments, one sentence saying why."""

    constructor: str
    kwargs: dict[str, Any]
    description: str


#: ``detect(path, *, val_split)`` -> ``Detected``, or ``None`` when the data at ``path`` is not this task's kind.
Detector = Callable[..., "Detected | None"]


def _frozen_options(value: Any, *, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
        raise TypeError(f"{what} must be a mapping of argument names to values, e.g. {{'backbone': 'resnet18'}}. "
                        f"Received: {what}={value!r}")
    return MappingProxyType(dict(value))


@dataclass(frozen=True)
class Demo:
    """A task's built-in demo: how to build its data, and the model and trainer arguments it trains with.

    ``model`` and ``trainer`` are keyword arguments (checked to be mappings when the entry is made, and
    read-only afterwards); the CLI lays ``--model.*`` / ``--trainer.*`` flags over them, so any of them
    (a tiny backbone for a quick run, say) can be overridden. ``inputs`` names a function
    ``inputs(folder) -> list[str]`` that writes a few new inputs of the task to predict on.

    Example:
        >>> Demo(datamodule="pkg.demo:demo_datamodule", model="minilm")
        Traceback (most recent call last):
        ...
        TypeError: Demo.model must be a mapping of argument names to values, e.g. {'backbone': 'resnet18'}. \
Received: Demo.model='minilm'
    """

    datamodule: str
    model: Mapping[str, Any] = field(default_factory=dict)
    trainer: Mapping[str, Any] = field(default_factory=dict)
    inputs: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "model", _frozen_options(self.model, what="Demo.model"))
        object.__setattr__(self, "trainer", _frozen_options(self.trainer, what="Demo.trainer"))


@dataclass(frozen=True)
class TaskEntry:
    """One task, as the CLI and every package that works for all tasks see it.

    Args:
        name: the task's name on the command line, e.g. ``"my_task"``.
        model: the ``Task`` subclass as ``"module:Class"`` (the form checkpoints record).
        data: the ``DataModule`` subclass as ``"module:Class"``.
        demo: the built-in demo.
        extra: the pip extra that installs the task's dependencies (``pip install "flash-finetune[<extra>]"``).
        summary: one line for ``flash list tasks``.
        expects: what ``--data`` should point at, for the error when ``detect`` recognises nothing.
        extensions: ``"module:CONSTANT"`` naming the file suffixes the task's readers accept (the readers' own
            tuple, so the two cannot drift), or ``None`` when inputs are not files (texts).
        detect: ``detect(path, *, val_split) -> Detected | None``: how to recognise this task's data on disk.
        adapters: what the all-task packages (serve, export, reports, inspect, ...) need from this task, as
            ``{adapter name: "module:attr"}`` (see ``ADAPTERS``); imported on first use by :meth:`adapter`.
            A task without an adapter is told so clearly when someone asks for it.
    """

    name: str
    model: str
    data: str
    demo: Demo
    extra: str
    summary: str
    expects: str
    extensions: str | None = None
    detect: Detector | None = None
    adapters: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.adapters) - set(ADAPTERS))
        if unknown:
            hint = close_matches(unknown[0], ADAPTERS, n=1)
            did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
            raise ConfigurationError(f"Unknown adapter {unknown[0]!r} in the {self.name} entry.{did_you_mean} "
                                     f"Adapters: {', '.join(ADAPTERS)}. Received: adapters={sorted(self.adapters)}")
        object.__setattr__(self, "adapters", MappingProxyType(dict(self.adapters)))

    def has_adapter(self, name: str) -> bool:
        """Whether this task provides the adapter ``name`` (one of ``ADAPTERS``)."""
        return name in self.adapters

    def adapter(self, name: str) -> Any:
        """Import and return the adapter ``name`` (one of ``ADAPTERS``); a task without it says so clearly."""
        if name not in ADAPTERS:
            raise ConfigurationError(f"Unknown adapter {name!r}. Adapters: {', '.join(ADAPTERS)}. Received: {name!r}")
        if name not in self.adapters:
            raise ConfigurationError(f"The {self.name} task does not support {ADAPTERS[name]}. "
                                     f"Received: task={self.name!r}")
        return self._import(self.adapters[name])

    def load(self, which: str) -> Any:
        """Import what the field ``which`` (``"model"``, ``"data"``, ``"extensions"``) names.

        A missing dependency says the ``pip install`` line of the task's extra.
        """
        return self._import(getattr(self, which))

    def load_demo_datamodule(self, **kwargs: Any) -> Any:
        """The demo's DataModule; ``kwargs`` (``--data.*`` flags) go to the demo's builder."""
        return self._import(self.demo.datamodule)(**kwargs)

    def write_demo_inputs(self, folder: str | Path) -> list[str]:
        """A few new inputs written into ``folder`` by the demo, as ``flash predict`` takes them (paths or texts)."""
        if self.demo.inputs is None:
            raise ConfigurationError(f"The {self.name} demo has no inputs writer. Received: Demo.inputs=None")
        return list(self._import(self.demo.inputs)(Path(folder)))

    def file_extensions(self) -> tuple[str, ...]:
        """The lower-case suffixes the task's readers accept, e.g. ``(".jpg", ".png", ...)``; ``()`` for texts."""
        return tuple(self.load("extensions")) if self.extensions else ()

    def recognise(self, path: str | Path, *, val_split: float = 0.2) -> Detected | None:
        """``detect`` applied to ``path``; ``None`` when the task cannot recognise data on disk."""
        return self.detect(Path(path), val_split=val_split) if self.detect else None

    def _import(self, ref: str) -> Any:
        module, _, attr = ref.partition(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as err:
            raise ConfigurationError(
                f"The {self.name} task needs packages that are not installed ({err}). "
                f"Install them with: {install_hint(self.extra)}"
            ) from err
        return getattr(mod, attr) if attr else mod
