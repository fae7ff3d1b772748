"""TextClassificationData: every from_*, encodings, length grouping, and each kind of bad input."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
import torch

from flash.core.data.samplers import LengthGroupedSampler
from flash.errors import ConfigurationError, DataError
from flash.text import TextClassificationData
from flash.text.classification.transform import text_lengths

TEXTS = ["good film", "bad plot", "lovely story", "awful acting", "great fun", "dull movie"]
LABELS = ["pos", "neg", "pos", "neg", "pos", "neg"]


def _frame(texts=TEXTS, labels=LABELS) -> pd.DataFrame:
    return pd.DataFrame({"text": texts, "label": labels})


def _samples(dataset) -> list[tuple[str, int]]:
    return [(dataset[i]["input"], int(dataset[i]["target"])) for i in range(len(dataset))]


def _check(dm: TextClassificationData) -> None:
    assert dm.labels == ["neg", "pos"] and dm.num_classes == 2
    assert _samples(dm.train_dataset) == [(t, int(label == "pos")) for t, label in zip(TEXTS, LABELS)]


# ---------------------------------------------------------------------------------------- sources
def test_from_csv_and_tsv(tmp_path):
    _frame().to_csv(tmp_path / "train.csv", index=False)
    _frame().to_csv(tmp_path / "val.tsv", index=False, sep="\t")
    _frame()[["text"]].to_csv(tmp_path / "predict.csv", index=False)
    dm = TextClassificationData.from_csv(
        "text",
        "label",
        train_file=tmp_path / "train.csv",
        val_file=tmp_path / "val.tsv",
        predict_file=tmp_path / "predict.csv",
        batch_size=2,
    )
    _check(dm)
    assert _samples(dm.val_dataset) == _samples(dm.train_dataset)
    assert [dm.predict_dataset[i]["input"] for i in range(6)] == TEXTS and dm.predict_dataset[0]["target"] is None


def test_from_csv_keeps_na_like_words_as_text(tmp_path):
    (tmp_path / "t.csv").write_text("text,label\nNA,pos\nnull,neg\n", encoding="utf-8")
    dm = TextClassificationData.from_csv("text", "label", train_file=tmp_path / "t.csv")
    assert [s["input"] for s in dm.train_dataset.samples] == ["NA", "null"]


def test_from_csv_utf8_with_and_without_bom(tmp_path):
    content = "text,label\ncafé crème,pos\nnaïve plot,neg\n"
    (tmp_path / "plain.csv").write_text(content, encoding="utf-8")
    (tmp_path / "bom.csv").write_text(content, encoding="utf-8-sig")
    assert (tmp_path / "bom.csv").read_bytes()[:3] == b"\xef\xbb\xbf"
    for name in ("plain.csv", "bom.csv"):
        dm = TextClassificationData.from_csv("text", "label", train_file=tmp_path / name)
        assert [s["input"] for s in dm.train_dataset.samples] == ["café crème", "naïve plot"]


def test_undecodable_file_names_file_and_encoding(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("text,label\ncaf\xe9,pos\nbad,neg\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin\.csv.*utf-8.*encoding="):
        TextClassificationData.from_csv("text", "label", train_file=path)
    dm = TextClassificationData.from_csv("text", "label", train_file=path, encoding="latin-1")
    assert dm.train_dataset.samples[0]["input"] == "café"
    with pytest.raises(DataError, match=r"latin\.csv.*utf-8"):
        TextClassificationData.from_json("text", "label", train_file=path)


def test_from_json_records_lines_and_field(tmp_path):
    records = [{"text": t, "label": label} for t, label in zip(TEXTS, LABELS)]
    (tmp_path / "records.json").write_text(json.dumps(records), encoding="utf-8")
    (tmp_path / "lines.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8-sig")
    (tmp_path / "nested.json").write_text(json.dumps({"version": 1, "data": records}), encoding="utf-8")
    (tmp_path / "columns.json").write_text(json.dumps({"text": TEXTS, "label": LABELS}), encoding="utf-8")
    for name, field in (("records.json", None), ("lines.jsonl", None), ("nested.json", "data"), ("columns.json", None)):
        _check(TextClassificationData.from_json("text", "label", train_file=tmp_path / name, field=field))
    with pytest.raises(DataError, match=r"no field 'rows'.*\['data', 'version'\]"):
        TextClassificationData.from_json("text", "label", train_file=tmp_path / "nested.json", field="rows")


def test_from_parquet(tmp_path):
    _frame().to_parquet(tmp_path / "train.parquet")
    _check(TextClassificationData.from_parquet("text", "label", train_file=tmp_path / "train.parquet"))


def test_from_data_frame_int_labels_and_val_split():
    dm = TextClassificationData.from_data_frame(
        "text", "label", train_data_frame=_frame(labels=[1, 0, 1, 0, 1, 0]), val_split=0.5, batch_size=2
    )
    assert dm.num_classes == 2 and dm.labels is None
    assert len(dm.train_dataset) == 3 and len(dm.val_dataset) == 3


def test_from_lists_and_predict_only():
    _check(TextClassificationData.from_lists(train_data=TEXTS, train_targets=LABELS))
    dm = TextClassificationData.from_lists(predict_data=["what a film"])
    assert dm.predict_dataset[0]["input"] == "what a film" and dm.num_classes is None


def test_from_hf_datasets_dataset_and_dataset_dict():
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    train = datasets.Dataset.from_dict(
        {"text": TEXTS, "label": [int(label == "pos") for label in LABELS]}, features=features
    )
    _check(TextClassificationData.from_hf_datasets("text", "label", train_hf_dataset=train))
    splits = datasets.DatasetDict(
        {"train": train, "validation": train.select(range(2)), "test": train.select(range(3))}
    )
    dm = TextClassificationData.from_datasets("text", "label", splits)
    _check(dm)
    assert len(dm.val_dataset) == 2 and len(dm.test_dataset) == 3


# ---------------------------------------------------------------------------------------- multi-label
def test_multi_label_from_several_columns():
    df = pd.DataFrame(
        {"text": ["funny and sad", "funny", "sad", "neither"], "comedy": [1, 1, 0, 0], "drama": [1, 0, 1, 0]}
    )
    dm = TextClassificationData.from_data_frame("text", ["comedy", "drama"], train_data_frame=df)
    assert dm.multi_label and dm.labels == ["comedy", "drama"]
    assert torch.equal(
        torch.stack([dm.train_dataset[i]["target"] for i in range(4)]),
        torch.tensor([[1.0, 1.0], [1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]),
    )


def test_multi_label_from_comma_strings_and_lists():
    for targets in (["comedy,drama", "comedy", "drama"], [["comedy", "drama"], ["comedy"], ["drama"]]):
        dm = TextClassificationData.from_lists(train_data=["a", "b", "c"], train_targets=targets)
        assert dm.multi_label and dm.labels == ["comedy", "drama"]
        assert dm.train_dataset[0]["target"].tolist() == [1.0, 1.0] and dm.train_dataset[2]["target"].tolist() == [
            0.0,
            1.0,
        ]


# ---------------------------------------------------------------------------------------- bad input
def test_empty_string_text_is_allowed():
    dm = TextClassificationData.from_lists(train_data=["", "good"], train_targets=["neg", "pos"])
    assert dm.train_dataset[0]["input"] == ""


def test_missing_text_names_file_and_row(tmp_path):
    (tmp_path / "t.csv").write_text("text,label\ngood,pos\n,neg\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Missing text in '.*t\.csv' row 1 \(column 'text'\)"):
        TextClassificationData.from_csv("text", "label", train_file=tmp_path / "t.csv")
    with pytest.raises(DataError, match="Missing text in the train data frame row 2"):
        TextClassificationData.from_data_frame(
            "text", "label", train_data_frame=_frame(texts=["a", "b", math.nan, "c", "d", "e"])
        )


def test_missing_label_names_file_and_row(tmp_path):
    (tmp_path / "t.csv").write_text("text,label\ngood,pos\nbad,\nfine,pos\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"Missing label in '.*t\.csv' row 1 \(column 'label'\)"):
        TextClassificationData.from_csv("text", "label", train_file=tmp_path / "t.csv")
    with pytest.raises(DataError, match="Missing label in the train data frame row 3"):
        TextClassificationData.from_data_frame("text", "label", train_data_frame=_frame(labels=[1, 0, 1, None, 1, 0]))


def test_missing_column_lists_existing_columns(tmp_path):
    _frame().to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(
        DataError, match=r"Column 'review' not found in '.*t\.csv'\. Its columns are \['text', 'label'\]"
    ):
        TextClassificationData.from_csv("review", "label", train_file=tmp_path / "t.csv")
    with pytest.raises(DataError, match=r"Column 'sentiment' not found"):
        TextClassificationData.from_csv("text", "sentiment", train_file=tmp_path / "t.csv")


def test_label_unseen_in_training_names_file_and_row(tmp_path):
    _frame().to_csv(tmp_path / "train.csv", index=False)
    _frame(labels=["pos", "neg", "meh", "neg", "pos", "neg"]).to_csv(tmp_path / "val.csv", index=False)
    with pytest.raises(DataError, match=r"Unknown label 'meh' in '.*val\.csv' row 2.*\['neg', 'pos'\]"):
        TextClassificationData.from_csv(
            "text", "label", train_file=tmp_path / "train.csv", val_file=tmp_path / "val.csv"
        )


def test_mixed_label_types_name_the_row():
    with pytest.raises(DataError, match=r"mix types: row 0 is str 'pos', row 3 is int 1"):
        TextClassificationData.from_lists(train_data=["a", "b", "c", "d"], train_targets=["pos", "neg", "pos", 1])
    df = _frame(labels=[0, 1, 0, "pos", 1, 0])
    with pytest.raises(DataError, match=r"train data frame column 'label' mix types.*row 3 is str 'pos'"):
        TextClassificationData.from_data_frame("text", "label", train_data_frame=df)


def test_non_text_and_bad_lists():
    with pytest.raises(DataError, match=r"row 1 .* is int 5, not a string"):
        TextClassificationData.from_lists(train_data=["a", 5], train_targets=["x", "y"])
    with pytest.raises(DataError, match="2 texts but 1 targets"):
        TextClassificationData.from_lists(train_data=["a", "b"], train_targets=["x"])
    with pytest.raises(DataError, match="File not found"):
        TextClassificationData.from_csv("text", "label", train_file="nowhere.csv")


# ---------------------------------------------------------------------------------------- length grouping
def test_sort_by_length_groups_similar_lengths():
    texts = [("word " * n).strip() for n in (1, 9, 2, 8, 3, 7, 4, 6)]
    dm = TextClassificationData.from_lists(
        train_data=texts, train_targets=["a", "b"] * 4, batch_size=2, sort_by_length=True
    )
    sampler = dm.train_dataloader().sampler
    assert isinstance(sampler, LengthGroupedSampler)
    order = list(sampler)
    assert sorted(order) == list(range(8))
    lengths = text_lengths(dm.train_dataset)
    pairs = [sorted(lengths[i] for i in order[k : k + 2]) for k in range(0, 8, 2)]
    ranked = sorted(lengths)
    assert sorted(pairs) == [ranked[k : k + 2] for k in range(0, 8, 2)]  # one group: each batch neighbours in length
    orders = []
    for epoch in range(4):
        sampler.set_epoch(epoch)
        orders.append(list(sampler))
        assert sorted(orders[-1]) == list(range(8))
    assert len({tuple(o) for o in orders}) > 1  # the batches come in a new order each epoch
    assert len({tuple(lengths[i] for i in o[:2]) for o in orders}) > 1  # not always the longest first
    with pytest.raises(ConfigurationError, match="sort_by_length=True or a sampler"):
        TextClassificationData.from_lists(
            train_data=texts, train_targets=["a", "b"] * 4, sort_by_length=True, sampler=object()
        )


def test_length_grouped_sampler_shards_across_processes(monkeypatch):
    from flash.core.data import samplers

    lengths = list(range(7))
    shards = []
    for rank in (0, 1):
        monkeypatch.setattr(samplers, "process_group", lambda rank=rank: (rank, 2))
        sampler = LengthGroupedSampler(lengths, batch_size=2)
        shards.append(list(sampler))
        assert len(sampler) == 4 == len(shards[-1])
    assert set(shards[0]) | set(shards[1]) == set(range(7))  # every sample seen; one repeated to even out


def test_rows_are_columns_and_a_row_is_located_only_when_bad(tmp_path, monkeypatch):
    from flash.core.data import SampleColumns
    from flash.text.classification.input import TextClassificationInput

    located = []
    where = TextClassificationInput.where
    monkeypatch.setattr(TextClassificationInput, "where", lambda self, i: located.append(i) or where(self, i))
    _frame().to_csv(tmp_path / "train.csv", index=False)
    dm = TextClassificationData.from_csv("text", "label", train_file=tmp_path / "train.csv")
    samples = dm.train_dataset.samples
    assert isinstance(samples, SampleColumns) and samples.targets.dtype.name == "int64"
    assert samples[2] == {"input": "lovely story", "target": 1, "metadata": {"row": 2}}
    assert located == []  # good rows cost no message
    _frame(labels=["pos", "neg", "meh", "neg", "pos", "neg"]).to_csv(tmp_path / "val.csv", index=False)
    with pytest.raises(DataError, match=r"Unknown label 'meh' in '.*val\.csv' row 2"):
        TextClassificationData.from_csv("text", "label", train_file=tmp_path / "train.csv",
                                        val_file=tmp_path / "val.csv")
    assert located == [2]
