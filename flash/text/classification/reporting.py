"""The text classifier's ``report`` adapter: the report every classifier shares, its mistakes shown as texts.

Example:
    >>> from flash.text.classification.entry import ENTRY
    >>> ENTRY.adapter("report").outputs
    ('preds', 'target')
"""

from __future__ import annotations

from typing import Any

from flash.core.data import INPUT
from flash.core.reporting.classification import ClassificationReport


class TextClassificationReport(ClassificationReport):
    """Per-class metrics, a confusion matrix and a table of the most confident mistakes, decoded back to text."""

    def view(self, module: Any, batch: Any, i: int) -> Any:
        """Sample ``i`` of a tokenized batch as its text (the model's tokenizer decodes the ids it was given)."""
        inputs = batch.get(INPUT) if isinstance(batch, dict) else None
        if isinstance(inputs, dict) and "input_ids" in inputs and hasattr(getattr(module, "tokenizer", None), "decode"):
            ids = inputs["input_ids"][i]
            mask = inputs.get("attention_mask")
            ids = ids[mask[i].bool()] if mask is not None else ids
            return module.tokenizer.decode(ids.tolist(), skip_special_tokens=True)
        return super().view(module, batch, i)
