"""Every task flash ships, one line each. The ``flash`` command, and every package that works for all tasks,
iterates over ``ENTRIES``; adding a task means writing its package (with an ``entry.py``) and adding one line here.

Importing this module imports no torch: each entry names its classes as strings, imported on first use.

Example:
    >>> from flash.tasks import ENTRIES, get_task
    >>> get_task("image-classification").name in [entry.name for entry in ENTRIES]
    True
"""

from __future__ import annotations

from flash.audio.speech_recognition import entry as speech_recognition
from flash.core.entry import TaskEntry
from flash.errors import ConfigurationError, close_matches
from flash.image.classification import entry as image_classification
from flash.image.detection import entry as object_detection
from flash.image.segmentation import entry as semantic_segmentation
from flash.text.classification import entry as text_classification

ENTRIES: tuple[TaskEntry, ...] = (
    image_classification.ENTRY,
    object_detection.ENTRY,
    text_classification.ENTRY,
    speech_recognition.ENTRY,
    semantic_segmentation.ENTRY,
)
TASKS: dict[str, TaskEntry] = {entry.name: entry for entry in ENTRIES}


def get_task(name: str) -> TaskEntry:
    """The entry called ``name`` (``-`` and ``_`` alike); an unknown name says the closest one."""
    key = name.replace("-", "_")
    if key not in TASKS:
        hint = close_matches(key, TASKS, n=1)
        did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
        raise ConfigurationError(f"Unknown task {name!r}.{did_you_mean} Tasks: {', '.join(TASKS)}. "
                                 f"See `flash list tasks`. Received: task={name!r}")
    return TASKS[key]


def task_for_model_class(class_path: str) -> TaskEntry | None:
    """The entry whose model class is ``module:Class`` (as stored in checkpoints)."""
    return next((entry for entry in ENTRIES if entry.model == class_path), None)
