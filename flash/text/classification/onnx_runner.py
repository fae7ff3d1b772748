"""Running an exported text classifier on onnxruntime (the entry's ``onnx`` adapter): the stored tokenizer files
tokenize as training did, then labels from the logits as ``TextClassifier.predict`` gives them.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from flash.core.serving import classify_logits, load_stored_files
from flash.errors import require


class TextClassificationRunner:
    """``Runner(session, metadata)``: texts -> labels, from an onnxruntime session."""

    default_output = "labels"

    def __init__(self, session: Any, metadata: dict[str, Any]) -> None:
        transformers = require("transformers", "text", purpose="tokenizing text")
        self.session, self.metadata = session, metadata
        self.tokenizer = load_stored_files(metadata, transformers.AutoTokenizer.from_pretrained)
        self.settings: dict[str, Any] = {}

    def load(self, text: str | os.PathLike) -> str:
        """A text (``flash predict`` passes texts as they are) -> what :meth:`__call__` takes."""
        return str(text)

    def __call__(self, texts: list[str]) -> list:
        encoded = self.tokenizer(texts, padding="longest", truncation=True, max_length=self.metadata["max_length"],
                                 return_tensors="np")
        feed = {name: encoded[name].astype(np.int64) for name in self.metadata["input_names"]}
        return classify_logits(self.session.run(None, feed)[0], self.metadata)
