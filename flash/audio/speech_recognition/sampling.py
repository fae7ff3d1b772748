"""Length-grouped training batches for audio: clips of similar duration batch together, so little is padding.

A batch of waveforms pads to its longest clip, and a CTC model's convolutions run over the padding too: with
random batches of 1-3 s clips about half of the audio computed is zeros. :class:`LengthGroupedSampler` (what
``SpeechRecognitionData`` uses for training by default) keeps the batches shuffled from epoch to epoch but of
near-equal durations, as the Hugging Face ``Trainer``'s ``group_by_length`` does. Durations come from the files'
headers (``soundfile.info``), not from decoding them.

The sampler is ``flash.core.data.samplers``' (the text DataModule's too); this module measures the clips.
"""

from __future__ import annotations

import io
import os
from typing import Any

from flash.core.data import INPUT


def audio_lengths(dataset: Any) -> list[float]:
    """Duration (seconds) of each sample's audio in an ``Input`` or a ``val_split`` ``Subset``, from file headers.

    A source whose header cannot be read counts as 0 s (loading it raises the error that names it).
    """
    if hasattr(dataset, "indices") and hasattr(dataset, "source"):
        samples = [dataset.source.samples[i] for i in dataset.indices]
    else:
        samples = dataset.samples
    rate = getattr(getattr(dataset, "source", dataset), "sampling_rate", 16000)
    return [_duration(sample[INPUT], rate) for sample in samples]


def _duration(source: Any, rate: int) -> float:
    if isinstance(source, (str, os.PathLike, bytes)):
        import soundfile

        try:
            return float(soundfile.info(io.BytesIO(source) if isinstance(source, bytes) else source).duration)
        except Exception:  # noqa: BLE001 - unreadable here: the loader names the file and the fix
            return 0.0
    shape = getattr(source, "shape", None)
    return (shape[0] if shape else len(source)) / rate
