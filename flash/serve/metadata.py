"""The metadata an exported file carries (task, labels, preprocessing settings, stored files), and reading it back.

ONNX files keep it in ``metadata_props["flash"]``, TorchScript files in the extra file ``flash.json``; both hold
the same JSON object, with ``task`` (the entry's name) and ``format_version``.

Example:
    >>> read_metadata("model.onnx")["format_version"]  # doctest: +SKIP
    1
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from flash.errors import ConfigurationError, require

METADATA_KEY = "flash"
FORMAT_VERSION = 1


def read_metadata(path: str | os.PathLike) -> dict[str, Any]:
    """The flash metadata stored in an exported ``.onnx`` or TorchScript file."""
    path = Path(path)
    if path.suffix.lower() == ".onnx":
        ort = require("onnxruntime", "serve", purpose="reading ONNX models")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        text = session.get_modelmeta().custom_metadata_map.get(METADATA_KEY)
    else:
        import torch

        files = {"flash.json": ""}
        torch.jit.load(str(path), _extra_files=files, map_location="cpu")
        text = files["flash.json"] or None
    if not text:
        raise ConfigurationError(f"'{path}' holds no flash metadata: export it with `flash export`. "
                                 f"Received: {path.name}")
    return json.loads(text)
