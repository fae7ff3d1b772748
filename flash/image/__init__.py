"""Image tasks: classification and object detection (need ``pip install "flash[image]"``).

Names resolve lazily so that importing one task does not load the other's dependencies.
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY = {
    "ImageClassifier": "flash.image.classification.model",
    "ImageClassificationData": "flash.image.classification.data",
    "ImageClassificationInputTransform": "flash.image.classification.transforms",
    "ObjectDetector": "flash.image.detection.model",
    "ObjectDetectionData": "flash.image.detection.data",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'flash.image' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value
