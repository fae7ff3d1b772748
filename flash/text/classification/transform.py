"""Batching text: tokenize in the collate (dynamic padding), and optionally group samples by length.

Why the collate: tokenizing a whole batch at once pads it to its own longest text (not to
``max_length``), runs in the DataLoader workers, and hands the model ready tensors. The tokenizer
belongs to the model (it must match the encoder), so ``TextClassifier`` gives its tokenizer and
``max_length`` to whichever transform feeds it: its own (``model.predict``) and the datamodule's
(in the ``setup`` hook of every trainer run).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flash.core.data import INPUT, InputTransform, collate_samples
from flash.core.data.columns import SampleColumns
from flash.errors import ConfigurationError


class TextClassificationInputTransform(InputTransform):
    """Collate that tokenizes a batch of texts: pad to the longest in the batch, truncate at ``max_length``.

    Example:
        >>> transform = TextClassificationInputTransform()
        >>> transform.set_tokenizer(tokenizer, max_length=32)  # doctest: +SKIP
        >>> batch = transform.collate("train")([{"input": "fine", "target": 0}])  # doctest: +SKIP
        >>> sorted(batch["input"])  # doctest: +SKIP
        ['attention_mask', 'input_ids', 'token_type_ids']
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tokenizer: Any = None
        self.max_length: int | None = None

    def set_tokenizer(self, tokenizer: Any, *, max_length: int) -> None:
        self.tokenizer, self.max_length = tokenizer, max_length

    def collate(self, stage: str) -> Callable[[list[dict]], Any]:
        return self._tokenize_batch

    def _tokenize_batch(self, samples: list[dict]) -> dict[str, Any]:
        if self.tokenizer is None:
            raise ConfigurationError(
                "The text transform has no tokenizer yet. Run the data through a TextClassifier "
                "(trainer.fit/validate/test/predict(model, datamodule=...) or model.predict(texts)); "
                "the model hands its tokenizer to the datamodule's transform."
            )
        texts = [sample[INPUT] for sample in samples]
        encoded = self.tokenizer(texts, padding="longest", truncation=True, max_length=self.max_length,
                                 return_tensors="pt")
        batch = (
            collate_samples([{k: v for k, v in s.items() if k != INPUT} for s in samples])
            if len(samples[0]) > 1
            else {}
        )
        batch[INPUT] = dict(encoded)  # {"input_ids": (B, T), "attention_mask": (B, T), ...}, T = longest in batch
        return batch


def text_lengths(dataset: Any) -> list[int]:
    """Character length of each sample's text in an ``Input`` or a ``val_split`` ``Subset`` (no loading)."""
    if hasattr(dataset, "indices") and hasattr(dataset, "source"):
        return [lengths[i] for lengths in [text_lengths(dataset.source)] for i in dataset.indices]
    samples = dataset.samples
    if isinstance(samples, SampleColumns):  # the texts themselves: no dict per sample
        return [len(text) for text in samples.inputs]
    return [len(sample[INPUT]) for sample in samples]
