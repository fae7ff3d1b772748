"""Streamed speech: a Hugging Face ``IterableDataset``, a torch ``IterableDataset`` or a generator of clips.

Each item is a dict of columns (``input_field``: the audio, ``target_fields``: the transcript; or, from a torch
stream, ``{"input", "target"}`` as map-style torch Datasets give), a ``(audio, transcript)`` pair, or the audio
alone (prediction). The audio is what the map-style inputs
take: a path, the encoded file's bytes, a Hugging Face audio cell (``{"bytes", "path"}``, or a decoded
``{"array", "sampling_rate"}``), or an array recorded at ``sampling_rate``. It is decoded in
``load_sample`` (in the DataLoader workers) by soundfile, mixed to mono and resampled to ``sampling_rate``
exactly as :class:`~flash.audio.speech_recognition.input.SpeechRecognitionInput` does; the model resamples
again if it works at another rate. Shuffling, sharding across processes and workers, and exact resume are
:class:`~flash.core.data.streams.StreamInput`'s. Transcripts are text: no labels to declare.

Example:
    >>> stream = load_dataset("audiofolder", data_dir="clips", streaming=True)["train"]  # doctest: +SKIP
    >>> SpeechStreamInput("train", stream, input_field="audio", target_field="transcription")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from typing import Any

from flash.audio.speech_recognition.input import DEFAULT_SAMPLING_RATE
from flash.audio.speech_recognition.io import audio_from_array, read_audio
from flash.core.data import INPUT, METADATA, TARGET, StreamInput
from flash.core.data.streams import is_hf_iterable
from flash.core.download import is_url, local_file
from flash.errors import DataError


class SpeechStreamInput(StreamInput):
    """One stage's stream of clips and transcripts (see the module docstring for what an item may be).

    Args:
        stage: "train", "val", "test" or "predict".
        source: a Hugging Face / torch ``IterableDataset``, a generator, or any iterable of items.
        input_field / target_field: the audio and transcript columns of dict items (target ignored for predict).
        sampling_rate: the rate audio is resampled to. shuffle_buffer, seed: see ``StreamInput``.
    """

    def __init__(self, stage: str, source: Any, *, input_field: str = "audio", target_field: str | None = "text",
                 sampling_rate: int = DEFAULT_SAMPLING_RATE, shuffle_buffer: int = 1000, seed: int = 0) -> None:
        self._hf = is_hf_iterable(source)
        if self._hf:
            from flash.audio.speech_recognition.hf_audio import undecoded

            _check_columns(source, stage, input_field, target_field if stage != "predict" else None)
            source = undecoded(source)  # read by soundfile: datasets' own decoding needs torchcodec and FFmpeg
        super().__init__(stage, source, shuffle_buffer=shuffle_buffer, seed=seed)
        self.input_field, self.target_field = input_field, target_field
        self.sampling_rate = int(sampling_rate)
        self.has_targets = self.has_targets and target_field is not None

    def format_targets(self, formatter: Any) -> None:
        """Transcripts stay text (the model tokenizes them): no formatter applies."""

    def to_sample(self, item: Any, index: int) -> dict:
        meta: dict[str, Any] = {"row": index}
        if isinstance(item, dict) and self.input_field not in item and INPUT in item and not self._hf:
            item = {self.input_field: item[INPUT], self.target_field or TARGET: item.get(TARGET)}  # a torch Dataset's
        if isinstance(item, dict):
            if self.input_field not in item:
                raise DataError(f"Item {index} of the {self.stage} stream has no {self.input_field!r} field; its "
                                f"fields are {sorted(item)}. Pass input_field= (and target_fields=) with the "
                                f"stream's column names. Received: input_field={self.input_field!r}")
            audio = item[self.input_field]
            target = self._target(item, index)
            meta.update({k: v for k, v in item.items() if k not in (self.input_field, self.target_field)
                         and isinstance(v, (str, int, float))})  # ids, keys, shard names: kept beside predictions
        elif isinstance(item, (tuple, list)) and item and not _is_number(item[0]):
            audio, target = item[0], (item[1] if len(item) > 1 and self.has_targets else None)
        else:
            audio, target = item, None  # the audio alone (a path, bytes or an array)
        if self.has_targets and not isinstance(target, str):
            raise DataError(f"The transcript of item {index} of the {self.stage} stream must be a string; got "
                            f"{target!r}. Fill in or drop items with missing transcripts (prediction needs none).")
        path = audio.get("path") if isinstance(audio, dict) else audio if isinstance(audio, str) else None
        if path:
            meta["filepath"] = str(path)
        return {INPUT: audio, TARGET: target, METADATA: meta}

    def _target(self, item: dict, index: int) -> Any:
        if not self.has_targets:
            return None
        if self.target_field not in item:
            raise DataError(f"Item {index} of the {self.stage} stream has no {self.target_field!r} field (the "
                            f"transcript); its fields are {sorted(item)}. Pass target_fields= with the transcript's "
                            f"column. Received: target_fields={self.target_field!r}")
        return item[self.target_field]

    def load_sample(self, sample: dict) -> dict:
        audio, meta = sample[INPUT], dict(sample[METADATA])
        name = f"item {meta['row']} of the {self.stage} stream"
        name = f"{meta['filepath']} ({name})" if "filepath" in meta else name
        rate = None
        if isinstance(audio, dict):
            if audio.get("array") is not None:
                audio, rate = audio["array"], audio.get("sampling_rate")
            else:
                audio = audio.get("bytes") or audio.get("path")
        if isinstance(audio, (str, os.PathLike)) and is_url(audio):
            audio = local_file(audio)  # downloaded to the cache, as the map-style inputs do
        if isinstance(audio, (str, os.PathLike, bytes, bytearray)):
            waveform = read_audio(bytes(audio) if isinstance(audio, bytearray) else audio,
                                  sampling_rate=self.sampling_rate, name=name)
        elif audio is None or isinstance(audio, (dict, int, float)):
            raise DataError(f"The audio of {name} is {audio!r}: expected a path, the file's bytes, a waveform array "
                            "or a {'bytes', 'path'} / {'array', 'sampling_rate'} cell. Check input_field.")
        else:
            waveform = audio_from_array(audio, sampling_rate=self.sampling_rate, source_rate=rate, name=name)
        meta["sampling_rate"] = self.sampling_rate
        return {**sample, INPUT: waveform, METADATA: meta}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_columns(stream: Any, stage: str, input_field: str, target_field: str | None) -> None:
    """A Hugging Face stream whose columns are known must have the ones read (named with those there are)."""
    columns = list(stream.features) if stream.features is not None else None
    missing = [c for c in (input_field, target_field) if c is not None and columns is not None and c not in columns]
    if missing:
        raise DataError(f"The {stage} stream has no column {missing[0]!r}; its columns are {sorted(columns or [])}. "
                        f"Pass input_field= / target_fields= with the right names. "
                        f"Received: input_field={input_field!r}, target_fields={target_field!r}")
