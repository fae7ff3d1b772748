"""What every predictor shares, whatever runs it: its task (found through ``flash.tasks.ENTRIES``, never by
name) and that task's ``serve`` adapter, which decodes uploads and encodes answers.

A predictor has ``task`` (the entry's name), ``input_kind`` (``"image"``, ``"text"`` or ``"audio"``), ``labels``,
``settings`` (what decoding needs, from the task's adapter), ``decode(data, *, name)``, ``encode(prediction)``,
``predict(inputs, *, output=None) -> list`` and ``describe()`` (what ``GET /health`` shows).

Example:
    >>> entry_of_model(object())
    Traceback (most recent call last):
    ...
    flash.errors.ConfigurationError: flash can serve and export ... models. Received: a object
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flash.core.entry import TaskEntry
from flash.errors import ConfigurationError


def _class_name(entry: TaskEntry) -> str:
    return entry.model.rpartition(":")[2]


def entry_of_model(model: Any) -> TaskEntry:
    """The entry whose model class is ``model``'s class or its nearest base class (subclasses are served too)."""
    from flash.tasks import ENTRIES

    by_class = {entry.model: entry for entry in ENTRIES}
    for klass in type(model).__mro__:
        entry = by_class.get(f"{klass.__module__}:{klass.__qualname__}")
        if entry is not None:
            return entry
    raise ConfigurationError(f"flash can serve and export {', '.join(map(_class_name, ENTRIES))} models. "
                             f"Received: a {type(model).__name__}")


def entry_of_export(metadata: dict[str, Any], *, path: str | Path) -> TaskEntry:
    """The entry of the task an exported file was written from (its metadata's ``task``)."""
    from flash.tasks import TASKS, get_task

    name = metadata.get("task")
    try:
        return get_task(str(name))
    except ConfigurationError:
        raise ConfigurationError(f"'{path}' was exported from a task this flash does not have (tasks: "
                                 f"{', '.join(TASKS)}). Export it again with this version's `flash export`. "
                                 f"Received: task={name!r}") from None


class Predictor:
    """The serving side of one model: its entry, the task's ``serve`` adapter and the settings decoding needs.

    Subclasses set ``runtime`` and implement ``predict``; they count ``forward_calls``.
    """

    runtime = ""

    def __init__(self, entry: TaskEntry, *, settings: dict[str, Any], labels: list | None) -> None:
        self.entry, self.task = entry, entry.name
        self.serving = entry.adapter("serve")
        self.input_kind: str = self.serving.input_kind
        self.settings, self.labels = settings, labels
        self.forward_calls = 0

    @property
    def sampling_rate(self) -> int | None:
        """The rate audio inputs are resampled to (None for other inputs)."""
        return self.settings.get("sampling_rate")

    def decode(self, data: bytes, *, name: str) -> Any:
        """One uploaded file (or UTF-8 text) -> the model's input; a ``DataError`` naming ``name`` when unreadable."""
        return self.serving.decode(data, name=name, settings=self.settings)

    def encode(self, prediction: Any) -> Any:
        """One prediction -> its JSON answer."""
        return self.serving.encode(prediction)

    def predict(self, inputs: list, *, output: str | None = None) -> list:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        return {"task": self.task, "input": self.input_kind, "labels": self.labels, "runtime": self.runtime,
                "sampling_rate": self.sampling_rate, "forward_calls": self.forward_calls}
