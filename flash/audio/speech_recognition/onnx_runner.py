"""Running an exported CTC speech recognizer on onnxruntime (the entry's ``onnx`` adapter): the stored feature
extractor and tokenizer, greedy CTC decoding of the logits, transcripts as ``SpeechRecognizer.predict`` gives them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flash.audio.speech_recognition.io import read_audio
from flash.core.serving import load_stored_files
from flash.errors import DataError, require


class SpeechRecognitionRunner:
    """``Runner(session, metadata)``: mono float32 waveforms at the stored rate -> transcripts."""

    default_output = "labels"

    def __init__(self, session: Any, metadata: dict[str, Any]) -> None:
        transformers = require("transformers", "audio", purpose="speech features")
        self.session, self.metadata = session, metadata
        self.extractor = load_stored_files(metadata, transformers.AutoFeatureExtractor.from_pretrained)
        self.tokenizer = load_stored_files(metadata, transformers.AutoTokenizer.from_pretrained)
        self.settings = {"sampling_rate": metadata["sampling_rate"]}

    def load(self, path: str | os.PathLike) -> Any:
        """An audio file -> a waveform at the model's rate (what :meth:`__call__` takes)."""
        return read_audio(path, sampling_rate=self.settings["sampling_rate"])

    def __call__(self, waveforms: list) -> list[str]:
        rate, limit = self.metadata["sampling_rate"], self.metadata["max_duration"]
        clips = [np.asarray(w, dtype=np.float32) for w in waveforms]
        for clip in clips:
            if len(clip) / rate > limit + 1e-6:
                raise DataError(f"Audio is {len(clip) / rate:.1f} s long, but this model takes at most {limit:g} s. "
                                f"Split the recording into shorter clips. Received: {len(clip)} samples at {rate} Hz")
        kwargs = {"return_attention_mask": True} if "attention_mask" in self.metadata["input_names"] else {}
        features = self.extractor(clips, sampling_rate=rate, return_tensors="np", padding=True, **kwargs)
        feed = {name: features[name].astype(np.int64 if name == "attention_mask" else np.float32)
                for name in self.metadata["input_names"]}
        logits, frames = self.session.run(None, feed)
        ids = logits.argmax(-1)  # (B, F, V) -> (B, F); frames made from padding are blanks
        ids[np.arange(ids.shape[1])[None, :] >= frames[:, None]] = self.tokenizer.pad_token_id
        return [" ".join(t.split()) for t in self.tokenizer.batch_decode(ids.tolist(), skip_special_tokens=True)]
