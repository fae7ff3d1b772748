"""Audio inputs for speech recognition: one ``Input`` for paths, bytes and arrays, the batch collate, and
the readers that turn tables and datasets into its arguments.

Example:
    >>> SpeechRecognitionInput("predict", ["a.wav"])  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from flash.audio.speech_recognition.io import audio_from_array, read_audio
from flash.core.data import INPUT, METADATA, TARGET, Input, InputTransform, skip_or_raise
from flash.core.download import is_url, local_file
from flash.core.tables import is_hf_dataset, read_table, table_format
from flash.errors import DataError

DEFAULT_SAMPLING_RATE = 16000


class SpeechRecognitionInput(Input):
    """One stage's audio: ``sources`` (paths, encoded bytes or arrays), their transcripts, and the names errors use."""

    def load_data(self, sources: Sequence, targets: Sequence[str] | None = None, *,
                  names: Sequence[str | None] | None = None, sampling_rate: int = DEFAULT_SAMPLING_RATE) -> list[dict]:
        self.sampling_rate = int(sampling_rate)
        sources = [local_file(s) if is_url(s) else s for s in sources]  # URLs are downloaded to the cache
        if targets is not None and len(targets) != len(sources):
            raise DataError(f"{len(sources)} {self.stage} inputs but {len(targets)} {self.stage} targets; "
                            "give one transcript per input.")
        missing, samples = [], []
        for row, source in enumerate(sources):
            target, name = None if targets is None else targets[row], None if names is None else names[row]
            if isinstance(source, (str, os.PathLike)):
                name = name or str(source)
                if not Path(source).is_file():
                    missing.append(f"Cannot read audio '{source}': the file does not exist. "
                                   "Check the path (and the audio root).")
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
    beside_table = table_dir is not None and not Path(path).is_absolute() and not Path(path).exists()
    if beside_table and (table_dir / path).exists():
        return str(table_dir / path)
    return str(path)


def table_args(file: str | os.PathLike | None, input_field: str, target_field: str | None,
                root: str | os.PathLike | None, *, field: str | None = None) -> dict | None:
    """A CSV/TSV/JSON table's audio paths (resolved) and transcripts (text, as written: empty stays empty)."""
    if file is None:
        return None
    columns = [input_field] + ([target_field] if target_field else [])
    table = read_table(file, format=table_format(file, default="json"), field=field, text_columns=columns,
                       empty_is_missing=False)
    absent = [c for c in columns if c not in table.columns]
    if absent and table.num_rows:
        raise DataError(f"{table.name} has no column {absent[0]!r}; columns: {table.columns}. "
                        "Pass input_field= / target_fields= with the right names.")
    table_dir = Path(file).parent
    return {"sources": [_resolve(str(path), root, table_dir) for path in table.column(input_field)],
            "targets": table.column(target_field) if target_field else None}


def dataset_args(dataset: Any, input_field: str, target_field: str | None) -> dict | None:
    """Sources from a HF ``datasets.Dataset`` (audio column read undecoded) or a torch Dataset of paths/tuples/dicts."""
    if dataset is None:
        return None
    if is_hf_dataset(dataset):
        from datasets import Audio

        if input_field not in dataset.column_names:
            raise DataError(f"The dataset has no column {input_field!r}; columns: {dataset.column_names}. "
                            "Pass input_field=.")
        if isinstance(dataset.features[input_field], Audio):
            # decoding needs torchcodec; soundfile reads the undecoded bytes instead
            dataset = dataset.cast_column(input_field, Audio(decode=False))
        cells = dataset[input_field]
        targets = dataset[target_field] if target_field and target_field in dataset.column_names else None
        sources = [(cell.get("bytes") or cell.get("path")) if isinstance(cell, dict) else cell for cell in cells]
        names = [(cell.get("path") or None) if isinstance(cell, dict) else None for cell in cells]
        return {"sources": sources, "targets": None if targets is None else list(targets), "names": names}
    entries = [_entry(dataset[i]) for i in range(len(dataset))]
    targets = [target for _, target in entries]
    return {"sources": [source for source, _ in entries],
            "targets": targets if any(t is not None for t in targets) else None}


def _entry(entry: Any) -> tuple[Any, Any]:
    """``(source, target)`` of a torch Dataset item: a dict, a tuple, or the source alone."""
    if isinstance(entry, dict):
        return entry[INPUT], entry.get(TARGET)
    if isinstance(entry, (tuple, list)):
        return entry[0], entry[1] if len(entry) > 1 else None
    return entry, None
