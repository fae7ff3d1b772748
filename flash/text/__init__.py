"""Text tasks (need ``pip install "flash-finetune[text]"``)."""

from __future__ import annotations

from flash.lazy import lazy_getattr

_LAZY = {
    "TextClassifier": "flash.text.classification.model",
    "TextClassificationData": "flash.text.classification.data",
}
__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)
