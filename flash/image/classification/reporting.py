"""The image classifier's ``report`` adapter: the report every classifier shares (its mistakes shown as a grid).

Example:
    >>> from flash.image.classification.entry import ENTRY
    >>> ENTRY.adapter("report").outputs
    ('preds', 'target')
"""

from __future__ import annotations

from flash.core.reporting.classification import ClassificationReport


class ImageClassificationReport(ClassificationReport):
    """Per-class metrics, a confusion matrix and a grid of the most confident mistakes (image tensors)."""
