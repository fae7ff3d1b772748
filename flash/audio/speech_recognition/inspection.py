"""The speech recognizer's ``inspect`` adapter: a table of audio paths and transcripts; each file's duration,
sample rate and channels.

Example:
    >>> from flash.audio.speech_recognition.entry import ENTRY
    >>> ENTRY.adapter("inspect").labels
    'transcripts'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flash.core.reporting.inspection import InspectAdapter, Item, Measurement, read_table_items
from flash.errors import DataError


def read(split: str, constructor: str, kwargs: Mapping[str, Any]) -> tuple[list[Item], list[str]]:
    """One item per row of the table (``from_csv`` / ``from_json``): the audio file and its transcript."""
    return read_table_items(split, kwargs, root_key="train_audio_root")


def measure_audio(item: Item, data: bytes) -> Measurement:
    """``durations (s)``, ``sample rates (Hz)`` and ``channels`` from the header in the file's bytes (no samples are
    decoded)."""
    import io

    import soundfile

    try:
        info = soundfile.info(io.BytesIO(data))
    except Exception as err:  # noqa: BLE001 - libsndfile raises RuntimeError/LibsndfileError/TypeError
        raise DataError(f"Cannot read audio '{item.path}': {err}. Remove or replace the file.") from err
    return Measurement(measures={"durations (s)": [info.frames / max(info.samplerate, 1)]},
                       tallies={"sample rates (Hz)": [info.samplerate], "channels": [info.channels]})


INSPECT = InspectAdapter(read=read, measure_bytes=measure_audio, labels="transcripts")
