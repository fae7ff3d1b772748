"""``Input`` (one data source -> samples), ``InputTransform`` (per-sample transforms + collate) and
``DataModule`` (the four stages, the label set, and the DataLoaders).

A sample is a dict: ``{"input": ..., "target": ..., "metadata": {...}}``. ``Input.load_data``
lists lightweight samples (paths, rows; as columns for large data, see ``columns.py``);
``Input.load_sample`` loads one (decodes the image, reads the audio) when the DataLoader asks for it
(``inputs.py``). A stream (an ``IterableDataset``, a generator) becomes a ``StreamInput`` (``streams.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partialmethod
from typing import Any, TypeVar

import torch
from torch.utils.data import DataLoader, default_collate

from flash.core.data.columns import INPUT, METADATA, TARGET, SampleColumns
from flash.core.data.inputs import STAGES, Input, SkipSample, Subset, describe, drop_skipped, skip_or_raise
from flash.core.data.streams import StreamInput, is_stream, stream_formatter
from flash.core.nested import to_plain
from flash.core.targets import TargetFormatter
from flash.core.threads import configure_threads, worker_init_fn
from flash.engine.data import default_num_workers
from flash.errors import ConfigurationError, DataError

FEATURES = "features"  # a batch of a frozen backbone's cached outputs, in place of INPUT (flash.core.feature_cache)
__all__ = ["FEATURES", "INPUT", "METADATA", "STAGES", "TARGET", "DataModule", "Input", "InputTransform",
           "SampleColumns", "SkipSample", "StreamInput", "Subset", "collate_samples", "describe", "is_stream",
           "skip_or_raise", "stage_args"]


class InputTransform:
    """Per-sample transforms and the collate function, per stage. Override the hooks you need.

    ``transform_kwargs`` given to a DataModule become this object's constructor arguments.
    Lightning Flash's hooks (zero-argument ``per_sample_transform()``, ``train_per_batch_transform()``,
    ``collate()``, ... and ``@dataclass`` fields) work too: see :mod:`flash.core.data.hooks`.
    """

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        from flash.core.data.hooks import adapt

        adapt(cls)

    def __post_init__(self) -> None:
        """A ``@dataclass`` subclass (Lightning Flash's style): its fields are the constructor arguments."""
        import dataclasses

        self.kwargs = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.init}  # type: ignore[arg-type]

    def per_sample_transform(self, stage: str) -> Callable[[dict], dict] | None:
        """A callable applied to each sample dict of ``stage`` (None: no transform)."""
        return None

    def collate(self, stage: str) -> Callable[[list[dict]], Any]:
        return collate_samples

    def deterministic(self, stage: str) -> bool:
        """Whether ``stage``'s per-sample transform gives the same output every time (no random augmentation).

        Unknown transforms count as random; ``finetune(cache_features=None)`` caches only deterministic ones.
        """
        return self.per_sample_transform(stage) is None

    def decode_size(self) -> tuple[int, int] | None:
        """The smallest ``(height, width)`` image the per-sample transforms need, as they resize to it next.

        Image inputs may then decode large JPEGs at a reduced scale (never below it); None: decode whole.
        """
        return None

    def state_dict(self) -> dict[str, Any]:
        """What a checkpoint stores to rebuild the evaluation transforms offline."""
        return {"class": f"{type(self).__module__}:{type(self).__qualname__}", "kwargs": to_plain(self.kwargs)}


def collate_samples(samples: list[dict]) -> dict[str, Any]:
    """Stack inputs and targets; keep metadata as a list (paths, sizes, ...)."""
    batch: dict[str, Any] = {}
    for key in samples[0]:
        values = [s[key] for s in samples]
        if all(v is None for v in values):
            continue
        batch[key] = values if key == METADATA else default_collate(values)
    return batch


def _stage_dataset(stage: str) -> property:
    return property(lambda self: self._datasets[stage], doc=f"The {stage} data (an ``Input``, a ``Subset`` or None).")


def stage_args(data: Mapping[str, Any], targets: Mapping[str, Any] | None = None, *, data_arg: str,
               target_arg: str = "targets", **extra: Mapping[str, Any]) -> dict[str, dict | None]:
    """Per-stage keyword arguments for :meth:`DataModule.from_stages` from per-stage values.

    A stage with no data is None; targets without data are an error; predict data gets no targets.
    ``extra`` maps more argument names to per-stage values (``images_root={"train": ..., ...}``).

    Example:
        >>> stage_args({"train": ["a.png"], "predict": ["b.png"]}, {"train": ["cat"]}, data_arg="files")["train"]
        {'files': ['a.png'], 'targets': ['cat']}
    """
    stages: dict[str, dict | None] = {}
    for stage in STAGES:
        value, target = data.get(stage), (targets or {}).get(stage)
        if value is None:
            if target is not None:
                raise ConfigurationError(f"{stage}_{target_arg} was given without {stage} data.")
            stages[stage] = None
            continue
        args = {data_arg: value, **{k: v[stage] for k, v in extra.items() if stage in v}}
        if targets is not None and stage != "predict":
            args[target_arg] = target
        stages[stage] = args
    return stages


DataModuleT = TypeVar("DataModuleT", bound="DataModule")


class DataModule:
    """The data of all stages, with the label set inferred from the training data.

    Args:
        train_input, val_input, test_input, predict_input: ``Input`` objects (any may be None).
        batch_size: samples per batch. num_workers: DataLoader worker processes (None: see
            :func:`flash.engine.data.default_num_workers`); they persist across epochs unless
            ``persistent_workers=False``.
        val_split: fraction of the training data held out for validation (seeded by ``seed``).
        transform: an ``InputTransform`` class or instance; ``transform_kwargs`` configure it.
        labels / multi_label: override what is inferred from the training targets.
        num_classes: for streamed data (``StreamInput``, no length to infer from): the number of classes,
            when ``labels`` does not name them.
    """

    input_transform_cls: type[InputTransform] = InputTransform
    formats_targets = True
    # from_datasets' keyword arguments taking the train/val/test/predict data, when it streams (None: it does not)
    from_datasets_stages: tuple[str, str, str, str] | None = None

    def __init__(self, train_input: Input | StreamInput | None = None, val_input: Input | StreamInput | None = None,
                 test_input: Input | StreamInput | None = None, predict_input: Input | StreamInput | None = None, *,
                 batch_size: int = 4, num_workers: int | None = None, val_split: float | None = None, seed: int = 42,
                 sampler: Any = None, pin_memory: bool | None = None, persistent_workers: bool | None = None,
                 transform: type[InputTransform] | InputTransform | None = None,
                 transform_kwargs: dict | None = None, labels: Sequence[str] | None = None,
                 multi_label: bool | None = None, target_formatter: TargetFormatter | None = None,
                 num_classes: int | None = None) -> None:
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ConfigurationError(f"batch_size must be an int >= 1. Received: batch_size={batch_size!r}")
        if all(d is None for d in (train_input, val_input, test_input, predict_input)):
            raise ConfigurationError("No data given: pass at least one of train/val/test/predict data.")
        if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, int)
                                        or num_workers < 0):
            raise ConfigurationError(f"num_workers must be an int >= 0, or None to choose. Received: "
                                     f"num_workers={num_workers!r}")
        self.batch_size, self.sampler, self.seed = batch_size, sampler, seed
        cuda = torch.cuda.is_available()
        self.num_workers = default_num_workers(cuda=cuda) if num_workers is None else num_workers
        self.pin_memory = cuda if pin_memory is None else pin_memory
        self.persistent_workers = self.num_workers > 0 and (persistent_workers is None or persistent_workers)
        self.transform = self._make_transform(transform, transform_kwargs or {})
        if target_formatter is not None and not isinstance(target_formatter, TargetFormatter):
            raise ConfigurationError(
                "target_formatter must be a flash.core.targets.TargetFormatter, or None to infer it from the targets "
                "(flash infers what Lightning Flash's formatter classes declared; pass labels= and multi_label= "
                f"to fix the label set). Received: target_formatter={target_formatter!r}")
        self.target_formatter = target_formatter
        self._datasets: dict[str, Any] = dict(zip(STAGES, (train_input, val_input, test_input, predict_input)))
        streams = [d for d in self._datasets.values() if isinstance(d, StreamInput)]
        if streams and sampler is not None and isinstance(self._datasets["train"], StreamInput):
            raise ConfigurationError("sampler= orders map-style training data; a training stream is read in its own "
                                     "order, shuffled through shuffle_buffer=. Remove sampler=, or pass map-style "
                                     f"data. Received: sampler={sampler!r}")
        if streams or any(getattr(d, "lazy_targets", False) for d in self._datasets.values()):
            self._stream_targets(labels, num_classes, multi_label, val_split if streams else None)
        elif num_classes is not None:
            raise ConfigurationError("num_classes= declares the classes of streamed data; other data's classes are "
                                     f"read from its targets (pass labels= to fix them). Received: "
                                     f"num_classes={num_classes!r}")
        elif self.formats_targets:
            self._format_targets(labels, multi_label)
        if val_split:
            self._split(val_split, seed)
        for stage, dataset in self._datasets.items():
            if dataset is not None:
                if not isinstance(dataset, StreamInput) and len(dataset) == 0:
                    raise DataError(f"The {stage} data is empty: no samples were found. Check the path or the filter.")
                dataset.transform = self.transform.per_sample_transform(stage)
                loader = dataset.source if isinstance(dataset, Subset) else dataset  # a Subset's Input loads
                if isinstance(loader, Input):
                    loader.input_transform = self.transform

    @classmethod
    def from_stages(cls: type[DataModuleT], input_cls: Callable[..., Input],
                    stages: Mapping[str, Mapping[str, Any] | Input | StreamInput | None], *,
                    input_kwargs: Mapping[str, Any] | None = None, **data_module_kwargs: Any) -> DataModuleT:
        """The one way every ``from_*`` builds its DataModule: ``input_cls(stage, **stages[stage], **input_kwargs)``.

        A stage's value is its Input's keyword arguments (see :func:`stage_args`), an ``Input`` built
        already (e.g. a predict folder that another Input class reads), or None (no data). Without
        ``labels=``, the first Input that knows its label names (``label_names``: a ``ClassLabel``
        column, multi-hot column names, a torchvision dataset's ``classes``) supplies them.

        Example:
            >>> dm = DataModule.from_stages(MyInput, {"train": {"rows": rows}}, batch_size=2)  # doctest: +SKIP
        """
        unknown = sorted(set(stages) - set(STAGES))
        if unknown:
            raise ConfigurationError(f"Unknown stage(s) {unknown}; the stages are {list(STAGES)}.")
        inputs = {stage: args if args is None or isinstance(args, (Input, StreamInput)) else
                  input_cls(stage, **args, **(input_kwargs or {})) for stage, args in stages.items()}
        if not data_module_kwargs.get("labels"):
            named = next((i.label_names for i in inputs.values() if i is not None and i.label_names), None)
            if named:
                data_module_kwargs["labels"] = named
        return cls(*(inputs.get(stage) for stage in STAGES), **data_module_kwargs)

    @classmethod
    def from_shards(cls: type[DataModuleT], train_files: Any = None, val_files: Any = None, test_files: Any = None,
                    predict_files: Any = None, *, format: str | None = None, **kwargs: Any) -> DataModuleT:
        """Sharded data, streamed: webdataset-style ``.tar`` archives or ``.parquet`` files, local or on an fsspec URL.

        Each stage's files (a glob, a path or URL, or a list of them; brace patterns such as ``{000..009}`` are
        not expanded) open as one Hugging Face ``IterableDataset`` with a shard per file
        (:func:`flash.core.data.shards.open_shards`), handed to this class's ``from_datasets`` with ``kwargs``
        (the columns to read as ``*_field=``, ``labels=`` or ``num_classes=``, ``shuffle_buffer=``, ...). DDP ranks
        and DataLoader workers split the data by file; the epoch's length is ``Trainer(max_steps=...)`` or
        ``limit_train_batches`` (see :mod:`flash.core.data.streams`). A ``.tar`` shard's columns are its members'
        extensions (``000017.jpg`` + ``000017.cls``: columns "jpg" and "cls", and "__key__"); ``format=``
        ("webdataset" or "parquet") overrides the extension.

        Example:
            >>> ImageClassificationData.from_shards(  # doctest: +SKIP
            ...     train_files="shards/train-*.tar", val_files="s3://bucket/val-*.tar", input_field="jpg",
            ...     target_field="cls", labels=["cat", "dog"], batch_size=32)
        """
        from flash.core.data.shards import shard_streams

        files = dict(zip(STAGES, (train_files, val_files, test_files, predict_files)))
        return cls.from_datasets(**shard_streams(cls, files, format=format, kwargs=kwargs), **kwargs)  # type: ignore[attr-defined]

    def _make_transform(self, transform, kwargs) -> InputTransform:
        if transform is None:
            return self.input_transform_cls(**kwargs)
        if isinstance(transform, InputTransform):
            if kwargs:
                raise ConfigurationError("Pass transform_kwargs with a transform class, not with an instance.")
            return transform
        if isinstance(transform, type) and issubclass(transform, InputTransform):
            return transform(**kwargs)
        raise ConfigurationError("transform must be an InputTransform class or instance. "
                                 f"Received: transform={transform!r}")

    def _stream_targets(self, labels, num_classes, multi_label, val_split) -> None:
        """Streamed data (or targets read as samples load): the labels are declared up front, never inferred."""
        if val_split:
            raise ConfigurationError("val_split cannot split streamed data (it has no length): pass val data. "
                                     f"Received: val_split={val_split!r}")
        if self.target_formatter is None and self.formats_targets:  # else the task's own (or none: masks, text)
            self.target_formatter = stream_formatter(labels, num_classes, multi_label=multi_label)
        for dataset in self._datasets.values():
            if dataset is not None and dataset.has_targets and self.target_formatter is not None:
                dataset.format_targets(self.target_formatter)

    def _format_targets(self, labels, multi_label) -> None:
        train = self._datasets["train"]
        if self.target_formatter is None:
            source = train if train is not None and train.has_targets else next(
                (d for d in self._datasets.values() if d is not None and d.has_targets), None)
            if source is None:
                return
            self.target_formatter = TargetFormatter.infer(source.distinct_targets(), labels=labels,
                                                          multi_label=multi_label, where=f"the {source.stage} data")
        for dataset in self._datasets.values():
            if dataset is not None and dataset.has_targets:
                dataset.format_targets(self.target_formatter)

    def _split(self, val_split: float, seed: int) -> None:
        train = self._datasets["train"]
        if not 0.0 < val_split < 1.0:
            raise ConfigurationError(f"val_split must be in (0, 1). Received: val_split={val_split!r}")
        if train is None:
            raise ConfigurationError("val_split needs training data to split.")
        if self._datasets["val"] is not None:
            raise ConfigurationError("Pass either val data or val_split, not both.")
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed)).tolist()
        n_val = max(1, int(round(len(train) * val_split)))
        if n_val >= len(train):
            raise DataError(f"val_split={val_split} leaves no training samples out of {len(train)}.")
        self._datasets["val"] = Subset(train, sorted(order[:n_val]), "val")
        self._datasets["train"] = Subset(train, sorted(order[n_val:]), "train")

    # ------------------------------------------------------------------ properties
    @property
    def labels(self) -> list[str] | None:
        return self.target_formatter.labels if self.target_formatter else None

    @property
    def num_classes(self) -> int | None:
        return self.target_formatter.num_classes if self.target_formatter else None

    @property
    def multi_label(self) -> bool:
        return bool(self.target_formatter and self.target_formatter.multi_label)

    train_dataset, val_dataset, test_dataset, predict_dataset = (_stage_dataset(stage) for stage in STAGES)

    # ------------------------------------------------------------------ loaders
    def _loader(self, stage: str) -> DataLoader | None:
        dataset = self._datasets[stage]
        if dataset is None:
            return None
        train = stage == "train"
        collate = drop_skipped(self.transform.collate(stage), dataset)
        init = worker_init_fn if self.num_workers else None
        if self.num_workers:
            configure_threads(self.num_workers)  # main + workers within the usable cores, one thread per worker
        if isinstance(dataset, StreamInput):  # it shuffles and shards itself; its own generator draws the worker
            # seeds, so a resumed run's new iterator leaves the global random state as an unbroken run left it
            return DataLoader(dataset, batch_size=self.batch_size, collate_fn=collate, num_workers=self.num_workers,
                              worker_init_fn=init, pin_memory=self.pin_memory,
                              persistent_workers=self.persistent_workers,
                              generator=torch.Generator().manual_seed(self.seed))
        sampler = self.stage_sampler(stage, dataset)
        return DataLoader(dataset, batch_size=self.batch_size, shuffle=train and sampler is None, sampler=sampler,
                          collate_fn=collate, num_workers=self.num_workers, worker_init_fn=init,
                          pin_memory=self.pin_memory, persistent_workers=self.persistent_workers)

    def stage_sampler(self, stage: str, dataset: Any) -> Any:
        """The sampler of ``stage``'s loader: ``sampler=`` (a Sampler, or a factory called with the dataset) for
        training, None (shuffled training, data order otherwise) when not given. A DataModule whose samples batch
        better in another order (texts of similar length) overrides it."""
        sampler = self.sampler if stage == "train" else None
        if sampler is not None and callable(sampler) and not isinstance(sampler, torch.utils.data.Sampler):
            sampler = sampler(dataset)  # a factory
        return sampler

    train_dataloader = partialmethod(_loader, "train")
    val_dataloader = partialmethod(_loader, "val")
    test_dataloader = partialmethod(_loader, "test")
    predict_dataloader = partialmethod(_loader, "predict")

    def show_batch(self, stage: str = "train", *, n: int = 8, path: str | None = None):
        """Draw ``n`` samples of a ``stage`` batch as the model sees them (augmented), titled by label.

        Returns the matplotlib Figure (shown inline in notebooks); ``path`` also saves a PNG.
        """
        from flash.core.plots import show_images

        loader = self._loader(stage)
        if loader is None:
            raise ConfigurationError(f"show_batch(stage={stage!r}): this DataModule has no {stage} data.")
        batch = next(iter(loader))
        images = list(batch[INPUT][:n])
        if not images or not hasattr(images[0], "ndim") or images[0].ndim not in (2, 3):
            raise DataError(f"show_batch draws images; the {stage} inputs are {type(batch[INPUT]).__name__}.")
        titles = None
        targets = batch.get(TARGET)
        if isinstance(targets, torch.Tensor):
            titles = [self._label_text(t) for t in targets[:n]]
        settings = self.transform.settings() if hasattr(self.transform, "settings") else self.transform.kwargs
        return show_images(images, titles=titles, path=path, mean=settings.get("mean"), std=settings.get("std"))

    show_train_batch = partialmethod(show_batch, "train")  # Lightning Flash's names
    show_val_batch = partialmethod(show_batch, "val")
    show_test_batch = partialmethod(show_batch, "test")
    show_predict_batch = partialmethod(show_batch, "predict")

    def _label_text(self, target: torch.Tensor) -> str:
        names = self.labels
        if target.ndim == 0:
            index = int(target)
            return names[index] if names and index < len(names) else str(index)
        active = torch.nonzero(target > 0.5).flatten().tolist()
        return ",".join(names[i] if names else str(i) for i in active)

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={'stream' if isinstance(v, StreamInput) else len(v)}"
                          for k, v in self._datasets.items() if v is not None)
        return f"{type(self).__name__}({sizes}, batch_size={self.batch_size}, num_classes={self.num_classes})"
