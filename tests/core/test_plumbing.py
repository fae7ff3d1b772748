"""The shared data plumbing: ``DataModule.from_stages``/``stage_args``, ``read_table`` and the HF checks,
``apply_to_tensors``/``to_plain`` and ``resolve_num_classes`` (what every task's ``from_*`` goes through)."""

from __future__ import annotations

import json
from collections import namedtuple

import numpy as np
import pytest
import torch

from flash.core.classification import resolve_num_classes
from flash.core.data import DataModule, stage_args
from flash.core.nested import NotPlainError, apply_to_tensors, to_plain
from flash.core.tables import hf_class_names, is_hf_dataset, is_hf_dataset_dict, read_table, table_from_records
from flash.errors import ConfigurationError, DataError

from .helpers import PointsInput, points


class NamedPointsInput(PointsInput):
    def load_data(self, points, targets=None):
        self.label_names = ["neg", "pos", "unused"]
        return super().load_data(points, targets)


def test_from_stages_builds_one_input_per_stage_given():
    xs, ys = points(12)
    stages = stage_args({"train": xs, "val": xs[:4], "predict": xs[:2]}, {"train": ys, "val": ys[:4]},
                        data_arg="points")
    assert stages["test"] is None and "targets" not in stages["predict"]
    dm = DataModule.from_stages(PointsInput, stages, batch_size=4)
    assert [len(d) if d is not None else None for d in (dm.train_dataset, dm.val_dataset, dm.test_dataset,
                                                         dm.predict_dataset)] == [12, 4, None, 2]
    assert dm.labels == ["neg", "pos"]


def test_from_stages_takes_a_built_input_and_label_names():
    xs, ys = points(6)
    predict = PointsInput("predict", xs[:3])
    dm = DataModule.from_stages(NamedPointsInput, {"train": {"points": xs, "targets": ys}, "predict": predict})
    assert dm.predict_dataset is predict
    assert dm.labels == ["neg", "pos", "unused"]  # from the Input's label_names
    given = DataModule.from_stages(NamedPointsInput, {"train": {"points": xs, "targets": ys}}, labels=["pos", "neg"])
    assert given.labels == ["pos", "neg"]  # labels= wins


def test_stage_errors_name_the_argument():
    with pytest.raises(ConfigurationError, match="val_targets was given without val data"):
        stage_args({"train": [1]}, {"val": [0]}, data_arg="files")
    with pytest.raises(ConfigurationError, match=r"Unknown stage\(s\) \['training'\]"):
        DataModule.from_stages(PointsInput, {"training": {"points": [[0.0, 1.0]]}})


def test_read_table_csv_json_and_missing_values(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("id,text,label\n007,NA,1\n008,,0\n", encoding="utf-8")
    table = read_table(csv, text_columns=["id", "text"])
    assert table.columns == ["id", "text", "label"] and table.num_rows == 2
    assert table.column("id") == ["007", "008"] and table.column("label") == [1, 0]
    assert table.column("text")[0] == "NA" and np.isnan(table.column("text")[1])  # only empty fields are missing
    assert read_table(csv, text_columns=["text"], empty_is_missing=False).column("text") == ["NA", ""]
    tsv = tmp_path / "t.tsv"
    tsv.write_text("a\tb\n1\tx\n", encoding="utf-8")
    assert read_table(tsv).column("b") == ["x"]
    nested = tmp_path / "t.json"
    nested.write_text(json.dumps({"data": [{"a": 1}, {"a": 2, "b": "y"}]}), encoding="utf-8")
    assert read_table(nested, field="data").column("b") == [None, "y"]
    lines = tmp_path / "t.jsonl"
    lines.write_text('{"a": 1}\n\n{"a": 2}\n', encoding="utf-8")
    assert read_table(lines).column("a") == [1, 2]
    assert table_from_records({"a": [1, 2], "b": [3, 4]}, "cols").column("b") == [3, 4]


def test_read_table_errors_name_the_file(tmp_path):
    with pytest.raises(DataError, match=r"File not found: CSV file '.*nope\.csv' does not exist"):
        read_table(tmp_path / "nope.csv")
    with pytest.raises(ConfigurationError, match=r"Cannot tell the table format of '.*data\.xlsx'"):
        read_table(tmp_path / "data.xlsx")
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    with pytest.raises(DataError, match=r"Cannot parse '.*bad\.json' line 2 as JSON"):
        read_table(bad)
    records = tmp_path / "records.json"
    records.write_text('{"data": []}', encoding="utf-8")
    with pytest.raises(DataError, match=r"has no field 'rows'; its top-level keys are \['data'\]"):
        read_table(records, field="rows")


def test_hf_dataset_checks():
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": ["a", "b"], "label": [0, 1]},
                                    features=datasets.Features({"text": datasets.Value("string"),
                                                                "label": datasets.ClassLabel(names=["neg", "pos"])}))
    assert is_hf_dataset(ds) and not is_hf_dataset({"train": ds}) and not is_hf_dataset([1, 2])
    assert is_hf_dataset_dict(datasets.DatasetDict({"train": ds})) and not is_hf_dataset_dict({"train": [1]})
    assert hf_class_names(ds, "label") == ["neg", "pos"] and hf_class_names(ds, "text") is None
    assert hf_class_names(ds, "absent") is None and hf_class_names(None, "label") is None


def test_apply_to_tensors_keeps_containers():
    Pair = namedtuple("Pair", "x y")
    batch = {"input": torch.ones(2), "pair": Pair(torch.zeros(1), "keep"), "items": [torch.ones(1), (torch.ones(1),)],
             "metadata": [{"row": 0}]}
    out = apply_to_tensors(batch, lambda t: t.double())
    assert out["input"].dtype == torch.float64 and isinstance(out["pair"], Pair) and out["pair"].y == "keep"
    assert out["items"][0].dtype == torch.float64 and isinstance(out["items"][1], tuple)
    assert out["items"][1][0].dtype == torch.float64 and out["metadata"] == [{"row": 0}]


def test_to_plain():
    value = {"size": (32, 32), 1: np.float32(0.5), "mean": np.array([0.5, 0.25]), "flag": np.bool_(True)}
    assert to_plain(value) == {"size": [32, 32], "1": 0.5, "mean": [0.5, 0.25], "flag": True}
    assert to_plain({"fn": len}) == {"fn": repr(len)}
    with pytest.raises(NotPlainError, match="builtin_function_or_method"):
        to_plain([1, {"fn": len}], strict=True)


def test_resolve_num_classes():
    assert resolve_num_classes(None, ["a", "b"], owner="X") == 2 and resolve_num_classes(3, None, owner="X") == 3
    with pytest.raises(ConfigurationError, match=r"X needs num_classes or labels"):
        resolve_num_classes(None, None, owner="X")
    counts = r"labels has 2 names but num_classes=3 \(the background counts\): the count does not match"
    with pytest.raises(ConfigurationError, match=counts):
        resolve_num_classes(3, ["a", "b"], owner="X", minimum=2, counts=" (the background counts)")
    with pytest.raises(ConfigurationError, match=r"num_classes must be an int >= 2. Received: num_classes=1"):
        resolve_num_classes(1, None, owner="X", minimum=2)
