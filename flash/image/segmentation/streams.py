"""Streamed segmentation data: images and their masks read as they come (see :mod:`flash.core.data.streams`).

A stream item is a dict of columns (a Hugging Face ``IterableDataset``'s row, a webdataset ``.tar`` shard's
sample) or an ``(image, mask)`` pair (a torch ``IterableDataset``, a generator). ``to_sample`` only picks the
columns; the image and the mask are decoded in ``load_sample``, in the DataLoader workers. A mask is a PIL
image (its mode says its kind, as a mask file's does: see :mod:`flash.image.segmentation.masks`), an array, a
path, or encoded bytes (``{"bytes": ..., "path": ...}``).

Example (webdataset-style shards: ``000017.jpg`` + ``000017.png`` make one sample)::

    >>> stream = load_dataset("webdataset", data_files="shards/*.tar", streaming=True, split="train")  # doctest: +SKIP
    >>> datamodule = SemanticSegmentationData.from_datasets(  # doctest: +SKIP
    ...     train_dataset=stream, input_field="jpg", target_field="png", num_classes=21)
"""

from __future__ import annotations

from typing import Any

from flash.core.data import INPUT, METADATA, TARGET, StreamInput
from flash.core.data.streams import is_hf_iterable
from flash.errors import DataError
from flash.image.segmentation.input import PairLoader

SCALARS = (str, int, float)


class SegmentationStreamInput(PairLoader, StreamInput):
    """One stage's stream of images and masks.

    Args:
        stage: "train", "val", "test" or "predict".
        source: a Hugging Face / torch ``IterableDataset``, a generator, or any iterable of items.
        input_field, target_field: the image's and the mask's columns, in dict items.
        shuffle_buffer, seed: see :class:`~flash.core.data.streams.StreamInput`.
    """

    def __init__(self, stage: str, source: Any, *, input_field: str = INPUT, target_field: str = TARGET,
                 shuffle_buffer: int = 1000, seed: int = 0) -> None:
        super().__init__(stage, _undecoded(source, (input_field, target_field)), shuffle_buffer=shuffle_buffer,
                         seed=seed)
        self.input_field, self.target_field = input_field, target_field

    def format_targets(self, formatter: Any) -> None:
        """Masks are class indices already (checked against ``num_classes`` as they load): nothing to format."""

    def to_sample(self, item: Any, index: int) -> dict:
        where = f"{self.stage} stream item {index}"
        if isinstance(item, dict):
            if self.input_field not in item or (self.has_targets and self.target_field not in item):
                missing = self.input_field if self.input_field not in item else self.target_field
                raise DataError(f"Item {index} of the {self.stage} stream has no {missing!r} field; its fields are "
                                f"{sorted(item)}. Pass input_field=... (the image) / target_field=... (the mask). "
                                f"Received: input_field={self.input_field!r}, target_field={self.target_field!r}")
            extra = {k: v for k, v in item.items() if k not in (self.input_field, self.target_field)
                     and isinstance(v, SCALARS)}  # ids, webdataset keys: kept beside the predictions
            if "__key__" in extra:
                where += f" (key {extra['__key__']!r})"
            image, target = item[self.input_field], item.get(self.target_field)
            meta = {"row": index, **extra, "where": where}
        elif isinstance(item, (tuple, list)) and len(item) in (1, 2):
            image, target = item[0], (item[1] if len(item) > 1 else None)
            meta = {"row": index, "where": where}
        else:
            raise DataError(f"The {self.stage} stream must yield (image, mask) pairs or dicts of columns; item "
                            f"{index} is a {type(item).__name__}. Received: {_short(item)}")
        if not self.has_targets:
            return {INPUT: image, METADATA: meta}
        if target is None:
            raise DataError(f"Item {index} of the {self.stage} stream has no mask ({self.target_field!r} is None). "
                            f"Every {self.stage} image needs its mask: fix or drop the item. Received: mask=None")
        return {INPUT: image, TARGET: target, METADATA: meta}

    def load_sample(self, sample: dict) -> dict:
        try:
            return super().load_sample(sample)
        except DataError:
            raise
        except (OSError, ValueError, SyntaxError) as err:  # a broken image that PIL decodes lazily
            where = (sample.get(METADATA) or {}).get("where", f"an item of the {self.stage} stream")
            raise DataError(f"Cannot decode the image or mask of {where}: {err}. Fix or drop the item. "
                            f"Received: input={_short(sample.get(INPUT))}") from None


def _undecoded(source: Any, columns: tuple[str, ...]) -> Any:
    """A Hugging Face stream whose ``Image`` columns among ``columns`` yield their encoded bytes: ``datasets``
    would decode them as it iterates, where a broken file could not be named; ``load_sample`` decodes them."""
    if not is_hf_iterable(source) or not source.features:
        return source
    for column in columns:
        feature = source.features.get(column)
        if type(feature).__name__ == "Image" and getattr(feature, "decode", False):
            source = source.cast_column(column, type(feature)(decode=False))
    return source


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
