"""``SpeechRecognitionData``: audio files / tables / datasets / arrays with their transcripts.

Audio is read with soundfile, mixed to mono and resampled to ``sampling_rate`` (16 kHz, what
wav2vec2, HuBERT and Whisper expect; the model resamples again if its feature extractor wants
another rate). Batches pad the waveforms and keep their lengths; transcripts stay strings (the
model tokenizes them), so ``formats_targets = False``.

Example:
    >>> datamodule = SpeechRecognitionData.from_files(  # doctest: +SKIP
    ...     ["a.wav", "b.flac"], train_targets=["hello", "world"], predict_files=["c.mp3"], batch_size=2)
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from flash.audio.speech_recognition.io import audio_from_array, is_audio_file, read_audio
from flash.core.data import INPUT, METADATA, STAGES, TARGET, DataModule, Input, InputTransform, skip_or_raise
from flash.errors import ConfigurationError, DataError

DEFAULT_SAMPLING_RATE = 16000


class SpeechRecognitionInput(Input):
    """One stage's audio sources: each item is ``{"source": path | bytes | array, "target": str | None, "name": str}``."""

    def load_data(self, items: Sequence[dict], *, sampling_rate: int = DEFAULT_SAMPLING_RATE) -> list[dict]:
        self.sampling_rate = int(sampling_rate)
        missing, samples = [], []
        for row, item in enumerate(items):
            source, target, name = item["source"], item.get("target"), item.get("name")
            if isinstance(source, (str, os.PathLike)):
                name = name or str(source)
                if not Path(source).is_file():
                    missing.append(f"Cannot read audio '{source}': the file does not exist. Check the path (and the audio root).")
            if target is not None and not isinstance(target, str):
                raise DataError(f"The transcript of {name or f'row {row}'} in the {self.stage} data must be a string; "
                                f"got {target!r}. Fill in or drop rows with missing transcripts.")
            meta = {"filepath": name} if name else {"row": row}
            samples.append({INPUT: source, TARGET: target, METADATA: meta})
        skip_or_raise(missing, skip=False, what="missing audio files")
        return samples

    def load_sample(self, sample: dict) -> dict:
        source, meta = sample[INPUT], dict(sample[METADATA])
        name = meta.get("filepath") or f"row {meta.get('row')} of the {self.stage} data"
        if isinstance(source, (str, os.PathLike, bytes)):
            waveform = read_audio(source, sampling_rate=self.sampling_rate, name=name)
        else:
            waveform = audio_from_array(source, sampling_rate=self.sampling_rate, name=name)
        meta["sampling_rate"] = self.sampling_rate
        return {**sample, INPUT: waveform, METADATA: meta}


def collate_audio(samples: list[dict]) -> dict[str, Any]:
    """Pad waveforms to the longest: ``{"input": {"waveform": (B, T), "lengths": (B,), "sampling_rate"}, ...}``."""
    waveforms = [s[INPUT] for s in samples]
    rates = {s[METADATA].get("sampling_rate", DEFAULT_SAMPLING_RATE) for s in samples}
    if len(rates) != 1:
        raise DataError(f"A batch mixes sampling rates {sorted(rates)}; read all audio at one sampling_rate.")
    lengths = torch.tensor([w.shape[0] for w in waveforms], dtype=torch.long)
    padded = torch.zeros(len(waveforms), int(lengths.max()), dtype=torch.float32)
    for i, waveform in enumerate(waveforms):
        padded[i, : waveform.shape[0]] = waveform
    targets = [s.get(TARGET) for s in samples]
    batch: dict[str, Any] = {INPUT: {"waveform": padded, "lengths": lengths, "sampling_rate": rates.pop()},
                             METADATA: [s[METADATA] for s in samples]}
    if all(t is not None for t in targets):
        batch[TARGET] = targets
    return batch


class SpeechRecognitionInputTransform(InputTransform):
    """No per-sample transform (the model's feature extractor normalises); pads batches of waveforms."""

    def collate(self, stage: str):
        return collate_audio


def _resolve(path: str, root: str | os.PathLike | None, table_dir: Path | None) -> str:
    if root is not None:
        return str(Path(root) / path)
    if table_dir is not None and not Path(path).is_absolute() and not Path(path).exists() and (table_dir / path).exists():
        return str(table_dir / path)
    return str(path)


def _read_table(file: str | os.PathLike, *, field: str | None = None) -> list[dict]:
    path = Path(file)
    if not path.is_file():
        raise DataError(f"Cannot read '{path}': the file does not exist.")
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return list(csv.DictReader(text.splitlines(), delimiter="\t" if path.suffix.lower() == ".tsv" else ","))
    try:
        data = json.loads(text)
    except json.JSONDecodeError:  # JSON lines
        data = [json.loads(line) for line in text.splitlines() if line.strip()]
    if isinstance(data, dict):
        if field is None or field not in data:
            raise DataError(f"'{path}' holds a JSON object; pass field=NAME for the list of records. Keys: {list(data)[:10]}")
        data = data[field]
    return list(data)


def _table_items(file, input_field: str, target_field: str | None, root, *, field: str | None = None) -> list[dict] | None:
    if file is None:
        return None
    rows = _read_table(file, field=field)
    table_dir = Path(file).parent
    wanted = [input_field] + ([target_field] if target_field else [])
    for key in wanted:
        if rows and key not in rows[0]:
            raise DataError(f"'{file}' has no column {key!r}; columns: {list(rows[0])}. "
                            "Pass input_field= / target_fields= with the right names.")
    return [{"source": _resolve(str(r[input_field]), root, table_dir), "target": r[target_field] if target_field else None}
            for r in rows]


def _pairs(sources: Sequence | None, targets: Sequence[str] | None, *, stage: str) -> list[dict] | None:
    if sources is None:
        return None
    sources = list(sources)
    if targets is not None and len(targets) != len(sources):
        raise DataError(f"{len(sources)} {stage} inputs but {len(targets)} {stage} targets; give one transcript per input.")
    return [{"source": s, "target": None if targets is None else targets[i]} for i, s in enumerate(sources)]


def _dataset_items(dataset: Any, input_field: str, target_field: str | None) -> list[dict] | None:
    """Items from a HF ``datasets.Dataset`` (audio column read undecoded) or a torch Dataset of paths/tuples/dicts."""
    if dataset is None:
        return None
    if type(dataset).__module__.startswith("datasets."):
        from datasets import Audio

        if input_field not in dataset.column_names:
            raise DataError(f"The dataset has no column {input_field!r}; columns: {dataset.column_names}. Pass input_field=.")
        if isinstance(dataset.features[input_field], Audio):
            dataset = dataset.cast_column(input_field, Audio(decode=False))  # decoding needs torchcodec; soundfile reads it
        cells = dataset[input_field]
        targets = dataset[target_field] if target_field and target_field in dataset.column_names else None
        items = []
        for i, cell in enumerate(cells):
            source = cell if not isinstance(cell, dict) else (cell.get("bytes") or cell.get("path"))
            name = cell.get("path") if isinstance(cell, dict) else None
            items.append({"source": source, "target": None if targets is None else targets[i], "name": name or None})
        return items
    items = []
    for i in range(len(dataset)):
        entry = dataset[i]
        if isinstance(entry, dict):
            items.append({"source": entry[INPUT], "target": entry.get(TARGET)})
        elif isinstance(entry, (tuple, list)):
            items.append({"source": entry[0], "target": entry[1] if len(entry) > 1 else None})
        else:
            items.append({"source": entry, "target": None})
    return items


def _one_target_field(target_fields: str | Sequence[str] | None, target_field: str | None) -> str | None:
    if target_fields is not None and target_field is not None:
        raise ConfigurationError("Pass target_fields or target_field (the same thing), not both.")
    value = target_fields if target_fields is not None else target_field
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ConfigurationError(f"Speech recognition takes one transcript column. Received: target_fields={value!r}")
        value = value[0]
    return value


class SpeechRecognitionData(DataModule):
    """Audio with transcripts for ``SpeechRecognizer``; one ``from_*`` per data layout.

    Every ``from_*`` takes ``sampling_rate`` (what audio is resampled to, default 16000) and the
    ``DataModule`` arguments (``batch_size``, ``num_workers``, ``val_split``, ``transform``, ...).
    """

    input_transform_cls = SpeechRecognitionInputTransform
    formats_targets = False

    @classmethod
    def _build(cls, stages: dict[str, list[dict] | None], *, sampling_rate: int, **data_module_kwargs: Any) -> SpeechRecognitionData:
        inputs = {stage: None if stages.get(stage) is None else
                  SpeechRecognitionInput(stage, stages[stage], sampling_rate=sampling_rate) for stage in STAGES}
        return cls(inputs["train"], inputs["val"], inputs["test"], inputs["predict"], **data_module_kwargs)

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
        stages = {"train": _pairs(train_files, train_targets, stage="train"), "val": _pairs(val_files, val_targets, stage="val"),
                  "test": _pairs(test_files, test_targets, stage="test"), "predict": _pairs(predict_files, None, stage="predict")}
        return cls._build(stages, sampling_rate=sampling_rate, **data_module_kwargs)

    @classmethod
    def from_numpy(cls, train_data: Sequence | None = None, train_targets: Sequence[str] | None = None, *,
                   val_data: Sequence | None = None, val_targets: Sequence[str] | None = None,
                   test_data: Sequence | None = None, test_targets: Sequence[str] | None = None,
                   predict_data: Sequence | None = None, sampling_rate: int = DEFAULT_SAMPLING_RATE,
                   **data_module_kwargs: Any) -> SpeechRecognitionData:
        """Waveform arrays (1-D, or (samples, channels)) recorded at ``sampling_rate``, with transcripts."""
        stages = {"train": _pairs(train_data, train_targets, stage="train"), "val": _pairs(val_data, val_targets, stage="val"),
                  "test": _pairs(test_data, test_targets, stage="test"), "predict": _pairs(predict_data, None, stage="predict")}
        return cls._build(stages, sampling_rate=sampling_rate, **data_module_kwargs)

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
        stages = {stage: _table_items(file, input_field, target_field if stage != "predict" else None, root, field=field)
                  for stage, file, root in zip(STAGES, files, roots)}
        return cls._build(stages, sampling_rate=sampling_rate, **data_module_kwargs)

    @classmethod
    def from_folders(cls, predict_folder: str | os.PathLike, *, sampling_rate: int = DEFAULT_SAMPLING_RATE,
                     **data_module_kwargs: Any) -> SpeechRecognitionData:
        """Every audio file in ``predict_folder`` (recursively, sorted), for prediction."""
        folder = Path(predict_folder)
        if not folder.is_dir():
            raise DataError(f"predict_folder '{folder}' is not a folder.")
        files = sorted(str(p) for p in folder.rglob("*") if p.is_file() and is_audio_file(p))
        return cls._build({"predict": _pairs(files, None, stage="predict")}, sampling_rate=sampling_rate, **data_module_kwargs)

    @classmethod
    def from_datasets(cls, train_dataset: Any = None, val_dataset: Any = None, test_dataset: Any = None,
                      predict_dataset: Any = None, *, input_field: str = "audio", target_fields: str | None = "text",
                      sampling_rate: int = DEFAULT_SAMPLING_RATE, **data_module_kwargs: Any) -> SpeechRecognitionData:
        """Hugging Face ``datasets.Dataset`` objects with an audio column (read undecoded, then by soundfile),
        or torch Datasets yielding paths, ``(path, transcript)`` tuples or ``{"input", "target"}`` dicts.

        Example:
            >>> ds = datasets.load_dataset("audiofolder", data_dir="clips")["train"]  # doctest: +SKIP
            >>> SpeechRecognitionData.from_datasets(ds, input_field="audio", target_fields="transcription")  # doctest: +SKIP
        """
        target = _one_target_field(target_fields, None)
        stages = {"train": _dataset_items(train_dataset, input_field, target), "val": _dataset_items(val_dataset, input_field, target),
                  "test": _dataset_items(test_dataset, input_field, target), "predict": _dataset_items(predict_dataset, input_field, None)}
        return cls._build(stages, sampling_rate=sampling_rate, **data_module_kwargs)
