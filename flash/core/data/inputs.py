"""``Input`` (one data source for one stage -> samples) and ``Subset`` (a ``val_split`` view of one).

``Input.load_data`` lists lightweight samples (paths, rows): a list of dicts, or columns
(:class:`~flash.core.data.columns.SampleColumns`, a path and a label id per row, for large data);
``Input.load_sample`` loads one (decodes the image, reads the audio) when the DataLoader asks for it.
A ``load_sample`` that meets a bad file it was told to skip raises :class:`SkipSample`: the sample is
dropped from its batch with a warning naming the file (:func:`drop_skipped` wraps the collate).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

from torch.utils.data import Dataset

from flash.core.data.columns import METADATA, TARGET, SampleColumns, distinct_targets, format_column
from flash.core.targets import TargetFormatter
from flash.errors import ConfigurationError, DataError

STAGES = ("train", "val", "test", "predict")


class SkipSample(Exception):
    """Raised by ``Input.load_sample`` for a bad sample the user asked to skip; the message names it."""


class Skipped:
    """What ``__getitem__`` returns for a skipped sample: its index and why (dropped by :func:`drop_skipped`)."""

    __slots__ = ("index", "reason")

    def __init__(self, index: int, reason: str) -> None:
        self.index, self.reason = index, reason


class Input(Dataset):
    """One data source for one stage. Subclasses implement ``load_data`` (and ``load_sample``).

    ``load_data`` may set ``label_names`` when the source names its classes (a ``ClassLabel`` column).
    """

    label_names: list[str] | None = None
    input_transform: Any = None  # the DataModule's InputTransform, set when it is built (see decode_size)

    def __init__(self, stage: str, *args: Any, **kwargs: Any) -> None:
        if stage not in STAGES:
            raise ConfigurationError(f"stage must be one of {STAGES}. Received: stage={stage!r}")
        self.stage = stage
        self.transform: Callable[[dict], dict] | None = None
        data = self.load_data(*args, **kwargs)
        self.samples: Sequence[dict] = data if isinstance(data, SampleColumns) else list(data)
        self.target_formatter: TargetFormatter | None = None

    def load_data(self, *args: Any, **kwargs: Any) -> Sequence[dict]:
        raise NotImplementedError

    def load_sample(self, sample: dict) -> dict:
        return sample

    @property
    def has_targets(self) -> bool:
        if isinstance(self.samples, SampleColumns):
            return self.samples.has_targets()
        return bool(self.samples) and all(s.get(TARGET) is not None for s in self.samples)

    def raw_targets(self) -> Sequence[Any]:
        if isinstance(self.samples, SampleColumns):
            return self.samples.targets if self.samples.targets is not None else [None] * len(self.samples)
        return [s[TARGET] for s in self.samples]

    def distinct_targets(self) -> Sequence[Any]:
        """The targets to infer the label set from: the distinct ones when that gives the same answer."""
        targets = self.raw_targets()
        return distinct_targets(targets) or targets

    def where(self, index: int) -> str:
        """Where sample ``index`` comes from, for error messages (built only for a bad sample)."""
        return f"the {self.stage} data ({describe(self.samples[index])})"

    def format_targets(self, formatter: TargetFormatter) -> None:
        """Replace raw targets by formatter output; an unknown label names the sample and stage."""
        self.target_formatter = formatter
        if isinstance(self.samples, SampleColumns):
            if self.samples.targets is not None:
                self.samples.targets = format_column(formatter, self.samples.targets, self.where)
            return
        for index, sample in enumerate(self.samples):
            if sample.get(TARGET) is not None:
                try:
                    sample[TARGET] = formatter(sample[TARGET], where=f"the {self.stage} data")
                except DataError:
                    formatter(sample[TARGET], where=self.where(index))  # the message names the sample
                    raise

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> Any:
        return load_or_skip(self, index, self.transform)


def load_or_skip(source: Input, index: int, transform: Callable[[dict], dict] | None) -> Any:
    """Sample ``index`` of ``source`` loaded and transformed; a :class:`Skipped` marker when it is skipped."""
    try:
        sample = source.load_sample(dict(source.samples[index]))
    except SkipSample as skip:
        warnings.warn(f"Skipped a bad file in the {source.stage} data: {skip}", stacklevel=2)
        return Skipped(index, str(skip))
    return transform(sample) if transform is not None else sample


def describe(sample: dict) -> str:
    """A short pointer to a sample for error messages: its file, or its row."""
    meta = sample.get(METADATA) or {}
    for key in ("filepath", "path", "file", "row"):
        if key in meta:
            return f"{key} {meta[key]!r}" if key != "row" else f"row {meta[key]}"
    return "a sample"


class Subset(Dataset):
    """A view of an Input with its own transform (``val_split`` gives val samples eval transforms)."""

    def __init__(self, source: Input, indices: list[int], stage: str) -> None:
        self.source, self.indices, self.stage = source, indices, stage
        self.transform: Callable[[dict], dict] | None = None

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> Any:
        sample = load_or_skip(self.source, self.indices[index], self.transform)
        if isinstance(sample, Skipped):
            sample.index = index  # a position in this view
        return sample


def drop_skipped(collate: Callable[[list], Any], dataset: Any) -> Callable[[list], Any]:
    """``collate`` over the samples of a batch that were not skipped.

    When every sample of a batch was skipped, the next samples of ``dataset`` that load take their place
    (a batch is never empty); a data set with no loadable sample at all raises, naming the first file.
    """
    def collate_loaded(samples: list) -> Any:
        loaded = [s for s in samples if not isinstance(s, Skipped)]
        if len(loaded) == len(samples):
            return collate(samples)
        if not loaded:
            loaded = [_next_loadable(dataset, samples[-1])]
        return collate(loaded)

    return collate_loaded


def _next_loadable(dataset: Any, skipped: Skipped) -> Any:
    size = len(dataset)
    for step in range(1, size + 1):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the files met here were (or will be) reported where they stand
            sample = dataset[(skipped.index + step) % size]
        if not isinstance(sample, Skipped):
            return sample
    raise DataError(f"Every file of the data was bad and skipped; the first: {skipped.reason}")


def skip_or_raise(errors: list[str], *, skip: bool, what: str) -> None:
    """Raise the first collected error, or warn once with the count when the user asked to skip."""
    if not errors:
        return
    if not skip:
        raise DataError(errors[0] + (f" ({len(errors) - 1} more like it.)" if len(errors) > 1 else ""))
    warnings.warn(f"Skipped {len(errors)} {what}; first: {errors[0]}", stacklevel=3)
