"""``TextClassificationData``: texts and labels from CSV, JSON, Parquet, DataFrames, lists or HF datasets.

Example:
    >>> from flash.text import TextClassificationData
    >>> datamodule = TextClassificationData.from_lists(
    ...     train_data=["great film", "dull plot", "loved it", "boring"],
    ...     train_targets=["pos", "neg", "pos", "neg"], batch_size=2)
    >>> datamodule.labels, datamodule.num_classes
    (['neg', 'pos'], 2)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from flash.core.data import STAGES, DataModule, is_stream, stage_args
from flash.core.data.samplers import LengthGroupedSampler, SortedLengthSampler
from flash.core.tables import (
    Table,
    hf_class_names,
    is_hf_dataset_dict,
    read_table,
    table_from_data_frame,
    table_from_hf_dataset,
)
from flash.errors import ConfigurationError
from flash.text.classification.input import TextClassificationInput, TextStreamInput, table_from_lists
from flash.text.classification.transform import TextClassificationInputTransform, text_lengths

PathLike = str | os.PathLike
_HF_SPLITS = {"train": ("train",), "val": ("validation", "val", "valid", "dev"), "test": ("test",),
              "predict": ("predict",)}


class TextClassificationData(DataModule):
    """A :class:`~flash.core.data.DataModule` for text classification (one text column, labels).

    Every ``from_*`` takes the data of each stage, ``input_field`` (the text column) and
    ``target_fields`` (one label column, or several 0/1 columns for multi-label), plus the
    DataModule's arguments (``batch_size``, ``val_split``, ``num_workers``, ``labels``, ...).
    By default texts of similar length are batched together (``sort_by_length``, on unless a ``sampler=`` is
    given): training batches are shuffled in groups of 50 batches, validation runs shortest first, so a batch
    pads little; ``sort_by_length=False`` gives plain shuffled batches.
    Tokenization happens per batch, with the tokenizer of the model being trained.

    Bad data raises a ``DataError`` naming the file (or data frame / list) and the row (counted
    from 0, header excluded): a missing column (the existing ones are listed), a missing text or
    label (None/NaN; in CSV an empty field), labels of mixed types in one column, a val/test label
    unseen in training, an undecodable file (pass ``encoding=``). An empty string is a valid text.
    Over-long texts are truncated to the model's ``max_length``.
    """

    input_transform_cls = TextClassificationInputTransform
    # from_hf_datasets (alias from_datasets) streams, so from_shards feeds it
    from_datasets_stages = ("train_hf_dataset", "val_hf_dataset", "test_hf_dataset", "predict_hf_dataset")

    def __init__(self, *args: Any, sort_by_length: bool | None = None, **kwargs: Any) -> None:
        if sort_by_length and kwargs.get("sampler") is not None:
            raise ConfigurationError("Pass either sort_by_length=True or a sampler, not both.")
        self.sort_by_length = kwargs.get("sampler") is None if sort_by_length is None else bool(sort_by_length)
        super().__init__(*args, **kwargs)

    def stage_sampler(self, stage: str, dataset: Any) -> Any:
        """With ``sort_by_length`` (the default unless a ``sampler=`` is given): training batches of texts of similar
        length, shuffled in groups (:class:`LengthGroupedSampler`); validation and test shortest first. Prediction
        keeps the data's order (``trainer.predict`` returns batches in it; ``model.predict`` sorts by itself)."""
        if not self.sort_by_length or stage == "predict":
            return super().stage_sampler(stage, dataset)
        if stage == "train":
            return LengthGroupedSampler(text_lengths(dataset), batch_size=self.batch_size, seed=self.seed)
        return SortedLengthSampler(text_lengths(dataset))

    @classmethod
    def _from_tables(cls, tables: dict[str, Table | None], input_field: str,
                     target_fields: str | Sequence[str] | None, **data_module_kwargs: Any) -> TextClassificationData:
        """The one place a DataModule is built from per-stage tables."""
        fields = [target_fields] if isinstance(target_fields, str) else list(target_fields or [])
        if len(fields) > 1:  # several 0/1 columns: multi-label, the columns name the classes
            data_module_kwargs.setdefault("labels", fields)
            data_module_kwargs.setdefault("multi_label", True)
        return cls.from_stages(TextClassificationInput, stage_args(tables, data_arg="table"), **data_module_kwargs,
                               input_kwargs={"input_field": input_field, "target_fields": fields})

    @classmethod
    def _from_files(cls, files: Sequence[PathLike | None], input_field: str, target_fields: Any, *,
                    read_kwargs: dict[str, Any], **data_module_kwargs: Any) -> TextClassificationData:
        tables = {stage: read_table(path, **read_kwargs) if path is not None else None
                  for stage, path in zip(STAGES, files)}
        return cls._from_tables(tables, input_field, target_fields, **data_module_kwargs)

    @classmethod
    def from_csv(cls, input_field: str, target_fields: str | Sequence[str] | None = None,
                 train_file: PathLike | None = None, val_file: PathLike | None = None,
                 test_file: PathLike | None = None, predict_file: PathLike | None = None, *, encoding: str = "utf-8",
                 **data_module_kwargs: Any) -> TextClassificationData:
        """CSV files (``.tsv``: tab-separated) with a header row. UTF-8 with or without BOM by default.

        Example:
            >>> dm = TextClassificationData.from_csv("review", "sentiment", train_file="train.csv",
            ...                                      val_split=0.1, batch_size=16)  # doctest: +SKIP
        """
        files = (train_file, val_file, test_file, predict_file)
        read_kwargs = {"format": "csv", "encoding": encoding, "text_columns": [input_field]}
        return cls._from_files(files, input_field, target_fields, read_kwargs=read_kwargs, **data_module_kwargs)

    @classmethod
    def from_json(cls, input_field: str, target_fields: str | Sequence[str] | None = None,
                  train_file: PathLike | None = None, val_file: PathLike | None = None,
                  test_file: PathLike | None = None, predict_file: PathLike | None = None, *, field: str | None = None,
                  encoding: str = "utf-8", **data_module_kwargs: Any) -> TextClassificationData:
        """JSON files (a list of records, or JSON lines); ``field`` names the key holding the records.

        Example:
            >>> dm = TextClassificationData.from_json("text", "label", train_file="train.json",
            ...                                       field="data", batch_size=16)  # doctest: +SKIP
        """
        files = (train_file, val_file, test_file, predict_file)
        read_kwargs = {"format": "json", "field": field, "encoding": encoding}
        return cls._from_files(files, input_field, target_fields, read_kwargs=read_kwargs, **data_module_kwargs)

    @classmethod
    def from_parquet(cls, input_field: str, target_fields: str | Sequence[str] | None = None,
                     train_file: PathLike | None = None, val_file: PathLike | None = None,
                     test_file: PathLike | None = None, predict_file: PathLike | None = None,
                     **data_module_kwargs: Any) -> TextClassificationData:
        """Parquet files (needs pyarrow).

        Example:
            >>> dm = TextClassificationData.from_parquet("text", "label", train_file="train.parquet")  # doctest: +SKIP
        """
        files = (train_file, val_file, test_file, predict_file)
        return cls._from_files(files, input_field, target_fields, read_kwargs={"format": "parquet"},
                               **data_module_kwargs)

    @classmethod
    def from_data_frame(cls, input_field: str, target_fields: str | Sequence[str] | None = None,
                        train_data_frame: Any = None, val_data_frame: Any = None, test_data_frame: Any = None,
                        predict_data_frame: Any = None, **data_module_kwargs: Any) -> TextClassificationData:
        """pandas DataFrames.

        Example:
            >>> import pandas as pd
            >>> df = pd.DataFrame({"text": ["good", "bad", "fine", "awful"], "label": [1, 0, 1, 0]})
            >>> TextClassificationData.from_data_frame("text", "label", train_data_frame=df).num_classes
            2
        """
        frames = (train_data_frame, val_data_frame, test_data_frame, predict_data_frame)
        tables = {stage: table_from_data_frame(df, f"the {stage} data frame") if df is not None else None
                  for stage, df in zip(STAGES, frames)}
        return cls._from_tables(tables, input_field, target_fields, **data_module_kwargs)

    @classmethod
    def from_lists(cls, train_data: Sequence[str] | None = None, train_targets: Sequence[Any] | None = None,
                   val_data: Sequence[str] | None = None, val_targets: Sequence[Any] | None = None,
                   test_data: Sequence[str] | None = None, test_targets: Sequence[Any] | None = None,
                   predict_data: Sequence[str] | None = None, **data_module_kwargs: Any) -> TextClassificationData:
        """Python lists of texts and of targets (a label, or a list of labels per text for multi-label).

        A generator (or any iterator) of texts is streamed, never made a list: declare the classes with
        ``labels=`` or ``num_classes=`` and the epoch with ``Trainer(max_steps=...)`` (see
        :mod:`flash.core.data.streams`).
        """
        pairs = ((train_data, train_targets), (val_data, val_targets), (test_data, test_targets), (predict_data, None))
        if any(is_stream(texts) for texts, _ in pairs):  # a generator: streamed, never made a list
            stages = {stage: None if texts is None else TextStreamInput(
                stage, texts if targets is None else zip(texts, targets), input_field="text",
                target_field=None if targets is None else "target", **cls._stream_kwargs(data_module_kwargs))
                for stage, (texts, targets) in zip(STAGES, pairs)}
            return cls.from_stages(TextClassificationInput, stages, **data_module_kwargs)
        tables = {stage: table_from_lists(texts, targets, f"the {stage} list") if texts is not None else None
                  for stage, (texts, targets) in zip(STAGES, pairs)}
        has_targets = any(targets is not None for _, targets in pairs)
        return cls._from_tables(tables, "text", "target" if has_targets else None, **data_module_kwargs)

    @classmethod
    def from_hf_datasets(cls, input_field: str, target_fields: str | Sequence[str] | None = None,
                         train_hf_dataset: Any = None, val_hf_dataset: Any = None, test_hf_dataset: Any = None,
                         predict_hf_dataset: Any = None, **data_module_kwargs: Any) -> TextClassificationData:
        """Hugging Face ``datasets.Dataset`` objects, or one ``DatasetDict`` as the first dataset.

        A ``DatasetDict`` fills the stages from its ``train``, ``validation`` (or ``val``/``valid``/``dev``),
        ``test`` and ``predict`` splits. A ``ClassLabel`` target column brings its class names.

        Example:
            >>> dm = TextClassificationData.from_hf_datasets("text", "label",
            ...                                              load_dataset("imdb"))  # doctest: +SKIP
        """
        datasets = [train_hf_dataset, val_hf_dataset, test_hf_dataset, predict_hf_dataset]
        if any(is_stream(d) for d in datasets):
            return cls._from_streams(datasets, input_field, target_fields, **data_module_kwargs)
        if is_hf_dataset_dict(train_hf_dataset):
            if any(d is not None for d in datasets[1:]):
                raise ConfigurationError("Pass either one DatasetDict or one Dataset per stage, not both.")
            splits = train_hf_dataset
            datasets = [next((splits[s] for s in _HF_SPLITS[stage] if s in splits), None) for stage in STAGES]
        tables = {stage: table_from_hf_dataset(ds, f"the {stage} dataset") if ds is not None else None
                  for stage, ds in zip(STAGES, datasets)}
        if isinstance(target_fields, str) and "labels" not in data_module_kwargs:
            names = hf_class_names(next((d for d in datasets if d is not None), None), target_fields)
            if names:
                data_module_kwargs["labels"] = names
        return cls._from_tables(tables, input_field, target_fields, **data_module_kwargs)

    from_datasets = from_hf_datasets  # the same loader under the name of the library it reads

    @staticmethod
    def _stream_kwargs(data_module_kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"shuffle_buffer": data_module_kwargs.pop("shuffle_buffer", 1000),
                "seed": data_module_kwargs.get("seed", 42)}

    @classmethod
    def _from_streams(cls, datasets: list[Any], input_field: str, target_fields: str | Sequence[str] | None,
                      **data_module_kwargs: Any) -> TextClassificationData:
        """Streams (Hugging Face ``IterableDataset``s, generators): read as they come; see flash.core.data.streams."""
        if target_fields is not None and not isinstance(target_fields, str):
            raise ConfigurationError("Streamed text takes one target column (a class name or index per text). "
                                     f"Received: target_fields={target_fields!r}")
        stream = cls._stream_kwargs(data_module_kwargs)
        if target_fields and "labels" not in data_module_kwargs:
            names = hf_class_names(next((d for d in datasets if d is not None), None), target_fields)
            if names:
                data_module_kwargs["labels"] = names
        stages = {stage: None if d is None else TextStreamInput(stage, d, input_field=input_field,
                                                                 target_field=target_fields, **stream)
                  for stage, d in zip(STAGES, datasets)}
        return cls.from_stages(TextClassificationInput, stages, **data_module_kwargs)

