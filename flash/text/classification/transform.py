"""Batching text: tokenize in the collate (dynamic padding), and optionally group samples by length.

Why the collate: tokenizing a whole batch at once pads it to its own longest text (not to
``max_length``), runs in the DataLoader workers, and hands the model ready tensors. The tokenizer
belongs to the model (it must match the encoder), so ``TextClassifier`` gives its tokenizer and
``max_length`` to whichever transform feeds it: its own (``model.predict``) and the datamodule's
(in the ``setup`` hook of every trainer run).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import Sampler

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


class LengthGroupedSampler(Sampler[int]):
    """Shuffled indices arranged so that consecutive ``batch_size`` samples have similar lengths.

    Samples are shuffled, cut into mega-batches of ``batch_size * group_batches``, and each
    mega-batch is sorted by length (longest first), so a batch pads little while the batches still
    vary from epoch to epoch. Under torch.distributed each process takes every world_size-th index.

    Example:
        >>> list(LengthGroupedSampler([5, 1, 4, 2], batch_size=2, group_batches=2))  # one mega-batch
        [0, 2, 3, 1]
    """

    def __init__(self, lengths: Sequence[int], *, batch_size: int, group_batches: int = 50, seed: int = 0) -> None:
        self.lengths, self.batch_size, self.group_batches, self.seed = list(lengths), batch_size, group_batches, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)  # the trainer calls set_epoch
        order = torch.randperm(len(self.lengths), generator=generator).tolist()
        size = self.batch_size * self.group_batches
        grouped = [
            i
            for start in range(0, len(order), size)
            for i in sorted(order[start : start + size], key=lambda i: -self.lengths[i])
        ]
        rank, world_size = _process_group()
        if world_size > 1:  # every process gets as many indices, neighbours stay of similar length
            grouped += grouped[: len(self) * world_size - len(grouped)]
            grouped = grouped[rank::world_size]
        return iter(grouped)

    def __len__(self) -> int:
        return -(-len(self.lengths) // _process_group()[1])


class SortedLengthSampler(Sampler[int]):
    """Indices shortest first, for evaluation and prediction: each batch pads to a near-equal length.

    Deterministic (no shuffling: evaluation order does not change metrics); under torch.distributed each
    process takes every world_size-th index, as :class:`LengthGroupedSampler` does. A predict loader using it
    yields predictions in this order: map them back with ``list(sampler)``.

    Example:
        >>> list(SortedLengthSampler([5, 1, 4, 2]))
        [1, 3, 2, 0]
    """

    def __init__(self, lengths: Sequence[int]) -> None:
        self.lengths = list(lengths)

    def __iter__(self) -> Iterator[int]:
        order = sorted(range(len(self.lengths)), key=lambda i: (self.lengths[i], i))
        rank, world_size = _process_group()
        if world_size > 1:
            order += order[: len(self) * world_size - len(order)]
            order = order[rank::world_size]
        return iter(order)

    def __len__(self) -> int:
        return -(-len(self.lengths) // _process_group()[1])


def _process_group() -> tuple[int, int]:
    """(rank, world size) of the running torch.distributed job, or (0, 1)."""
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


def text_lengths(dataset: Any) -> list[int]:
    """Character length of each sample's text in an ``Input`` or a ``val_split`` ``Subset`` (no loading)."""
    if hasattr(dataset, "indices") and hasattr(dataset, "source"):
        return [lengths[i] for lengths in [text_lengths(dataset.source)] for i in dataset.indices]
    samples = dataset.samples
    if isinstance(samples, SampleColumns):  # the texts themselves: no dict per sample
        return [len(text) for text in samples.inputs]
    return [len(sample[INPUT]) for sample in samples]
