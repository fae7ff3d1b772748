"""The scale benchmarks (issue 31) run, and both sides of each hold the same data. Not a timing test."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_scale_image_folders_lists_what_image_folder_lists():
    result = _load("scale_image_folders").run(quick=True, count=300, repeats=1)
    assert result["same_files_and_labels"] and result["labels_equal"]
    assert result["flash_batch_shape"] == result["torchvision_batch_shape"] == (32, 3, 32, 32)
    assert result["flash_columns_bytes_per_sample"] < 300


def test_scale_text_csv_holds_what_pandas_holds():
    result = _load("scale_text_csv").run(quick=True, rows=500, repeats=1)
    assert result["same_texts_and_labels"]
    assert result["flash_batch_keys"] == ["attention_mask", "input_ids", "token_type_ids"]


def test_scale_feature_cache_gives_the_hand_loops_features_from_one_file():
    result = _load("scale_feature_cache").run(quick=True, count=96)
    assert result["equal_features"] and result["second_fit_equal"]
    assert result["flash_file_bytes"] == result["rows_x_768_x_4"]  # one preallocated copy on disk
