"""Text tasks (need ``pip install "flash[text]"``)."""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "TextClassifier": "flash.text.classification.model",
    "TextClassificationData": "flash.text.classification.data",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'flash.text' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
