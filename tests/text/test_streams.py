"""Streamed text (issue 31 item 3): a Hugging Face IterableDataset and a generator given to from_lists."""

from __future__ import annotations

import pytest

from flash.errors import ConfigurationError
from flash.text import TextClassificationData

TEXTS = ["good film", "bad plot", "lovely story", "awful acting", "great fun", "dull movie"] * 3
LABELS = ["pos", "neg"] * 9


def _rows(loader) -> list[int]:
    return [meta["row"] for batch in loader for meta in batch["metadata"]]


def _tokenize(dm):
    class Split:  # a stand-in tokenizer: the collate only needs a callable returning tensors
        def __call__(self, texts, **kwargs):
            import torch

            return {"input_ids": torch.tensor([[len(t)] for t in texts])}

    dm.transform.set_tokenizer(Split(), max_length=8)
    return dm


def test_a_generator_given_to_from_lists_is_streamed():
    pulled = []

    def texts():
        for text in TEXTS:
            pulled.append(text)
            yield text

    dm = _tokenize(TextClassificationData.from_lists(train_data=texts(), train_targets=LABELS, labels=["neg", "pos"],
                                                     batch_size=4, num_workers=0))
    assert pulled == [] and dm.labels == ["neg", "pos"]
    batches = list(dm.train_dataloader())
    assert sorted(_rows(batches)) == list(range(len(TEXTS)))
    assert sum(batch["target"].sum().item() for batch in batches) == 9  # the "pos" rows
    with pytest.raises(ConfigurationError, match=r"labels=\[...\]"):
        TextClassificationData.from_lists(train_data=iter(TEXTS), train_targets=LABELS)


def test_hugging_face_iterable_dataset_with_class_label():
    datasets = pytest.importorskip("datasets")
    features = datasets.Features({"text": datasets.Value("string"), "label": datasets.ClassLabel(names=["neg", "pos"])})
    table = datasets.Dataset.from_dict({"text": TEXTS, "label": [int(x == "pos") for x in LABELS]}, features=features)
    dm = _tokenize(TextClassificationData.from_hf_datasets("text", "label", table.to_iterable_dataset(num_shards=3),
                                                           batch_size=5, num_workers=0, shuffle_buffer=4))
    assert dm.labels == ["neg", "pos"]
    batches = list(dm.train_dataloader())
    assert sum(len(b["target"]) for b in batches) == len(TEXTS) and batches[0]["input"]["input_ids"].shape[0] == 5
    with pytest.raises(ConfigurationError, match="one target column"):
        TextClassificationData.from_datasets("text", ["a", "b"], table.to_iterable_dataset(), labels=["x"])
