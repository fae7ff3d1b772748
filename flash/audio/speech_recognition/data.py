"""``SpeechRecognitionData``: audio files / tables / datasets / arrays with their transcripts.

Audio is read with soundfile, mixed to mono and resampled to ``sampling_rate`` (16 kHz, what
wav2vec2, HuBERT and Whisper expect; the model resamples again if its feature extractor wants
another rate). Batches pad the waveforms and keep their lengths; transcripts stay strings (the
model tokenizes them), so ``formats_targets = False``.

Streams (a Hugging Face ``IterableDataset``, a torch ``IterableDataset``, a generator) and shards
(``from_shards``: webdataset-style ``.tar`` or ``.parquet`` files) are read as they come; see
:meth:`SpeechRecognitionData.from_datasets` and :mod:`~flash.audio.speech_recognition.stream`.

Example:
    >>> datamodule = SpeechRecognitionData.from_files(  # doctest: +SKIP
    ...     ["a.wav", "b.flac"], train_targets=["hello", "world"], predict_files=["c.mp3"], batch_size=2)
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flash.audio.speech_recognition.input import (
    DEFAULT_SAMPLING_RATE,
    SpeechRecognitionInput,
    SpeechRecognitionInputTransform,
    dataset_args,
    table_args,
)
from flash.audio.speech_recognition.io import is_audio_file
from flash.audio.speech_recognition.sampling import audio_lengths
from flash.audio.speech_recognition.stream import SpeechStreamInput
from flash.core.data import STAGES, DataModule, StreamInput, is_stream, stage_args
from flash.core.data.samplers import LengthGroupedSampler
from flash.errors import ConfigurationError, DataError


def _one_target_field(target_fields: str | Sequence[str] | None, target_field: str | None) -> str | None:
    if target_fields is not None and target_field is not None:
        raise ConfigurationError("Pass target_fields or target_field (the same thing), not both.")
    value = target_fields if target_fields is not None else target_field
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ConfigurationError("Speech recognition takes one transcript column. "
                                     f"Received: target_fields={value!r}")
        value = value[0]
    return value if value is None else str(value)


class SpeechRecognitionData(DataModule):
    """Audio with transcripts for ``SpeechRecognizer``; one ``from_*`` per data layout.

    Every ``from_*`` takes ``sampling_rate`` (what audio is resampled to, default 16000) and the
    ``DataModule`` arguments (``batch_size``, ``num_workers``, ``val_split``, ``transform``, ...).
    """

    input_transform_cls = SpeechRecognitionInputTransform
    formats_targets = False
    # from_datasets streams, so from_shards feeds it
    from_datasets_stages = ("train_dataset", "val_dataset", "test_dataset", "predict_dataset")

    def __init__(self, *args: Any, group_by_length: bool | None = None, **kwargs: Any) -> None:
        """``group_by_length`` (default, None: on for map-style training data): training batches of clips of similar
        duration, shuffled every epoch (see :mod:`~flash.audio.speech_recognition.sampling`); False: plain shuffled
        batches. A ``sampler`` replaces it. A training stream cannot be sorted (its durations are known only as
        its clips are read): it is batched in stream order through its shuffle buffer, and
        ``group_by_length=True`` warns so."""
        train = args[0] if args else kwargs.get("train_input")
        if isinstance(train, StreamInput):
            if group_by_length:
                warnings.warn(
                    "group_by_length=True cannot sort a training stream: its clips' durations are known only as they "
                    "are read, and reading it whole to sort it defeats streaming. The stream is batched in stream "
                    f"order through its shuffle buffer (shuffle_buffer={train.shuffle_buffer}). Leave "
                    "group_by_length unset (or False) for streams. Received: group_by_length=True", stacklevel=2)
            group_by_length = False
        group_by_length = group_by_length is not False and kwargs.get("sampler") is None
        if group_by_length:
            kwargs["sampler"] = self._length_sampler
        self.group_by_length = group_by_length
        super().__init__(*args, **kwargs)

    def _length_sampler(self, dataset: Any) -> LengthGroupedSampler:
        return LengthGroupedSampler(audio_lengths(dataset), batch_size=self.batch_size, seed=self.seed)

    def _stream_targets(self, labels: Any, num_classes: Any, multi_label: Any, val_split: Any) -> None:
        """Streamed transcripts are text, not classes: nothing to declare up front (a stream still has no
        length for ``val_split`` to split)."""
        declared = {name: value for name, value in (("labels", labels), ("num_classes", num_classes)) if value}
        if declared:
            raise ConfigurationError("Speech recognition targets are transcripts (text), not classes: there are no "
                                     f"labels to declare. Remove {' and '.join(declared)}. Received: "
                                     + ", ".join(f"{k}={v!r}" for k, v in declared.items()))
        super()._stream_targets(labels, num_classes, multi_label, val_split)

    @classmethod
    def from_files(cls, train_files: Sequence[str] | None = None, train_targets: Sequence[str] | None = None, *,
                   val_files: Sequence[str] | None = None, val_targets: Sequence[str] | None = None,
                   test_files: Sequence[str] | None = None, test_targets: Sequence[str] | None = None,
                   predict_files: Sequence[str] | None = None, sampling_rate: int = DEFAULT_SAMPLING_RATE,
                   **data_module_kwargs: Any) -> SpeechRecognitionData:
        """Lists of audio files and their transcripts.

        Example:
            >>> SpeechRecognitionData.from_files(["a.wav"], ["hello"], predict_files=["b.wav"])  # doctest: +SKIP
        """
        files = {"train": train_files, "val": val_files, "test": test_files, "predict": predict_files}
        targets = {"train": train_targets, "val": val_targets, "test": test_targets}
        return cls.from_stages(SpeechRecognitionInput, stage_args(files, targets, data_arg="sources"),
                               input_kwargs={"sampling_rate": sampling_rate}, **data_module_kwargs)

    @classmethod
    def from_numpy(cls, train_data: Sequence | None = None, train_targets: Sequence[str] | None = None, *,
                   val_data: Sequence | None = None, val_targets: Sequence[str] | None = None,
                   test_data: Sequence | None = None, test_targets: Sequence[str] | None = None,
                   predict_data: Sequence | None = None, sampling_rate: int = DEFAULT_SAMPLING_RATE,
                   **data_module_kwargs: Any) -> SpeechRecognitionData:
        """Waveform arrays (1-D, or (samples, channels)) recorded at ``sampling_rate``, with transcripts."""
        return cls.from_files(train_data, train_targets, val_files=val_data, val_targets=val_targets,
                              test_files=test_data, test_targets=test_targets, predict_files=predict_data,
                              sampling_rate=sampling_rate, **data_module_kwargs)

    @classmethod
    def from_csv(cls, input_field: str, target_fields: str | None = None, *, train_file: str | None = None,
                 val_file: str | None = None, test_file: str | None = None, predict_file: str | None = None,
                 train_audio_root: str | None = None, val_audio_root: str | None = None,
                 test_audio_root: str | None = None, predict_audio_root: str | None = None,
                 sampling_rate: int = DEFAULT_SAMPLING_RATE, target_field: str | None = None,
                 **data_module_kwargs: Any) -> SpeechRecognitionData:
        """CSV (or ``.tsv``) tables with an audio-path column ``input_field`` and a transcript column.

        Relative paths are joined to the stage's ``*_audio_root``; without one they are taken as
        given, or next to the table file when they exist there. ``target_field`` is Lightning
        Flash's name for ``target_fields``.

        Example:
            >>> SpeechRecognitionData.from_csv("file", "text", train_file="train.csv", val_split=0.1)  # doctest: +SKIP
        """
        return cls._from_tables(input_field, _one_target_field(target_fields, target_field),
                                files=(train_file, val_file, test_file, predict_file),
                                roots=(train_audio_root, val_audio_root, test_audio_root, predict_audio_root),
                                sampling_rate=sampling_rate, **data_module_kwargs)

    @classmethod
    def from_json(cls, input_field: str, target_fields: str | None = None, *, train_file: str | None = None,
                  val_file: str | None = None, test_file: str | None = None, predict_file: str | None = None,
                  train_audio_root: str | None = None, val_audio_root: str | None = None,
                  test_audio_root: str | None = None, predict_audio_root: str | None = None,
                  field: str | None = None, sampling_rate: int = DEFAULT_SAMPLING_RATE, target_field: str | None = None,
                  **data_module_kwargs: Any) -> SpeechRecognitionData:
        """JSON files (a list of records, JSON lines, or ``{field: [records]}``); fields as in :meth:`from_csv`."""
        return cls._from_tables(input_field, _one_target_field(target_fields, target_field),
                                files=(train_file, val_file, test_file, predict_file),
                                roots=(train_audio_root, val_audio_root, test_audio_root, predict_audio_root),
                                sampling_rate=sampling_rate, field=field, **data_module_kwargs)

    @classmethod
    def _from_tables(cls, input_field, target_field, *, files, roots, sampling_rate, field=None, **data_module_kwargs):
        stages = {stage: table_args(file, input_field, target_field if stage != "predict" else None, root, field=field)
                  for stage, file, root in zip(STAGES, files, roots)}
        return cls.from_stages(SpeechRecognitionInput, stages, input_kwargs={"sampling_rate": sampling_rate},
                               **data_module_kwargs)

    @classmethod
    def from_folders(cls, predict_folder: str | os.PathLike, *, sampling_rate: int = DEFAULT_SAMPLING_RATE,
                     **data_module_kwargs: Any) -> SpeechRecognitionData:
        """Every audio file in ``predict_folder`` (recursively, sorted), for prediction."""
        folder = Path(predict_folder)
        if not folder.is_dir():
            raise DataError(f"predict_folder '{folder}' is not a folder.")
        files = sorted(str(p) for p in folder.rglob("*") if p.is_file() and is_audio_file(p))
        return cls.from_files(predict_files=files, sampling_rate=sampling_rate, **data_module_kwargs)

    @classmethod
    def from_datasets(cls, train_dataset: Any = None, val_dataset: Any = None, test_dataset: Any = None,
                      predict_dataset: Any = None, *, input_field: str = "audio", target_fields: str | None = "text",
                      sampling_rate: int = DEFAULT_SAMPLING_RATE, shuffle_buffer: int = 1000,
                      **data_module_kwargs: Any) -> SpeechRecognitionData:
        """Hugging Face ``datasets.Dataset`` objects with an audio column (read undecoded, then by soundfile),
        or torch Datasets yielding paths, ``(path, transcript)`` tuples or ``{"input", "target"}`` dicts.

        Streams (a Hugging Face ``IterableDataset``, e.g. ``load_dataset(..., streaming=True)``, a torch
        ``IterableDataset`` or a generator) are read as they come: dicts with the ``input_field`` /
        ``target_fields`` columns, ``(audio, transcript)`` pairs, or the audio alone for prediction. The audio
        (a path, the file's bytes, a ``{"bytes", "path"}`` or ``{"array", "sampling_rate"}`` cell, or an array
        at ``sampling_rate``) is decoded in the DataLoader workers and resampled to ``sampling_rate``, as for
        map-style data. Training streams are shuffled through a buffer of ``shuffle_buffer`` clips and batched
        in that order (``group_by_length`` cannot sort a stream); the epoch's length is ``Trainer(max_steps=...)``
        or ``limit_train_batches``. See :mod:`flash.core.data.streams`.

        ``from_shards`` reads shards through this method. A webdataset-style ``.tar`` shard holds each clip's
        files side by side: ``000017.flac`` (or ``.wav``, ``.mp3``, ...) and ``000017.txt`` (its transcript)
        make one item, so pass ``input_field="flac"``, ``target_fields="txt"`` (``__key__`` and ``__url__``
        stay in the predictions' metadata). A ``.parquet`` shard's audio column holds ``{"bytes", "path"}``
        structs (what ``datasets`` writes for an ``Audio`` column) or the encoded bytes.

        Example:
            >>> ds = datasets.load_dataset("audiofolder", data_dir="clips")["train"]  # doctest: +SKIP
            >>> SpeechRecognitionData.from_datasets(  # doctest: +SKIP
            ...     ds, input_field="audio", target_fields="transcription")
            >>> SpeechRecognitionData.from_shards(  # doctest: +SKIP
            ...     "shards/train-*.tar", input_field="flac", target_fields="txt", batch_size=8)
        """
        target = _one_target_field(target_fields, None)
        datasets = {"train": train_dataset, "val": val_dataset, "test": test_dataset, "predict": predict_dataset}
        stream = {"shuffle_buffer": shuffle_buffer, "seed": data_module_kwargs.get("seed", 42),
                  "sampling_rate": sampling_rate}
        stages = {stage: SpeechStreamInput(stage, ds, input_field=input_field, target_field=target, **stream)
                  if is_stream(ds) else dataset_args(ds, input_field, target if stage != "predict" else None)
                  for stage, ds in datasets.items()}
        return cls.from_stages(SpeechRecognitionInput, stages, input_kwargs={"sampling_rate": sampling_rate},
                               **data_module_kwargs)
