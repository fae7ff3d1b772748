"""A text backbone that already has a trained classification head keeps it when it fits the labels."""

from __future__ import annotations

import pytest
import torch

from flash.text import TextClassifier
from tests.text.helpers import build_tiny_bert


@pytest.fixture(scope="module")
def toxic_like(tmp_path_factory):
    """A tiny BertForSequenceClassification with 6 labels (a stand-in for unitary/toxic-bert), saved to a folder."""
    from transformers import BertForSequenceClassification

    folder = tmp_path_factory.mktemp("toxic_like")
    build_tiny_bert(folder)
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(str(folder), num_labels=6)
    torch.nn.init.normal_(model.classifier.weight, std=1.0)  # a "trained" head: clearly not a fresh init
    model.save_pretrained(str(folder))
    return folder, model.eval()


def test_matching_head_is_kept_and_survives_a_checkpoint(toxic_like, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder, reference = toxic_like
    model = TextClassifier(6, backbone=str(folder), multi_label=True).eval()
    batch = model.tokenizer(["good film", "awful plot"], return_tensors="pt", padding=True)
    with torch.no_grad():
        expected = reference(**batch).logits
        assert torch.allclose(model(dict(batch)), expected, atol=1e-5)
    assert model.backbone is model.head.base_model, "freeze strategies freeze the encoder, not the head"
    import flash
    from flash.text import TextClassificationData

    trainer = flash.Trainer(default_root_dir=tmp_path, logger=False, enable_progress_bar=False)
    trainer.predict(model, TextClassificationData.from_lists(predict_data=["good film"], batch_size=1))
    trainer.save_checkpoint(tmp_path / "text.pt")
    reloaded = TextClassifier.load_from_checkpoint(str(tmp_path / "text.pt")).eval()
    with torch.no_grad():
        assert torch.allclose(reloaded(dict(batch)), expected, atol=1e-5)


def test_other_label_count_gets_a_fresh_head(toxic_like):
    folder, _ = toxic_like
    model = TextClassifier(3, backbone=str(folder))
    assert isinstance(model.head, torch.nn.Sequential) and model.head[-1].out_features == 3
