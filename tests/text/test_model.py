"""TextClassifier on a tiny random BERT: fit, finetune, predict, batching, multi-label, checkpoints offline."""

from __future__ import annotations

import shutil

import pytest
import torch

import flash
from flash.errors import ConfigurationError
from flash.text import TextClassificationData, TextClassifier

from .helpers import build_tiny_bert, make_reviews


def _trainer(tmp_path, **kwargs) -> flash.Trainer:
    options = dict(max_epochs=1, default_root_dir=str(tmp_path / "run"), enable_checkpointing=False,
                   enable_progress_bar=False, logger=False)
    return flash.Trainer(**{**options, **kwargs})


def _model(tiny_bert, **kwargs) -> TextClassifier:
    options = dict(backbone=tiny_bert, labels=["neg", "pos"], pretrained=False, learning_rate=1e-3)
    return TextClassifier(**{**options, **kwargs})


@pytest.mark.slow
def test_fit_learns_and_logs_metrics(tiny_bert, tmp_path):
    torch.manual_seed(0)
    texts, labels = make_reviews(240)
    dm = TextClassificationData.from_lists(train_data=texts[:160], train_targets=labels[:160],
                                           val_data=texts[160:], val_targets=labels[160:], batch_size=16)
    model = _model(tiny_bert, labels=None, num_classes=2)
    trainer = _trainer(tmp_path, max_epochs=4)
    trainer.fit(model, datamodule=dm)
    metrics = trainer.callback_metrics
    assert {"val_accuracy", "val_f1score", "train_accuracy", "val_loss"} <= set(metrics)
    assert float(metrics["val_accuracy"]) >= 0.75  # measured 0.85; chance is 0.5: the sentiment word decides the label
    assert model.labels == ["neg", "pos"] and model.hparams["labels"] == ["neg", "pos"]  # taken from the data
    assert trainer.validate(model, datamodule=dm)[0]["val_accuracy"] == pytest.approx(float(metrics["val_accuracy"]))


def test_finetune_freeze_keeps_encoder_unchanged(tiny_bert, tmp_path):
    texts, labels = make_reviews(32)
    dm = TextClassificationData.from_lists(train_data=texts, train_targets=labels, batch_size=8)
    model = _model(tiny_bert)
    encoder = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head = {k: v.clone() for k, v in model.head.state_dict().items()}
    _trainer(tmp_path, max_epochs=1).finetune(model, datamodule=dm, strategy="freeze")
    assert all(torch.equal(v, model.backbone.state_dict()[k]) for k, v in encoder.items())
    assert not all(torch.equal(v, model.head.state_dict()[k]) for k, v in head.items())
    _trainer(tmp_path, max_epochs=2).finetune(model, datamodule=dm, strategy=("freeze_unfreeze", 1))
    assert not all(torch.equal(v, model.backbone.state_dict()[k]) for k, v in encoder.items())


def test_freeze_runs_the_encoder_once_and_learns_from_its_cached_output(tiny_bert, tmp_path):
    """Tokenizing is deterministic, so finetune(strategy="freeze") caches the frozen encoder's pooled output."""
    torch.manual_seed(0)
    texts, labels = make_reviews(240)
    dm = TextClassificationData.from_lists(train_data=texts[:160], train_targets=labels[:160],
                                           val_data=texts[160:], val_targets=labels[160:], batch_size=16)
    model = _model(tiny_bert, learning_rate=3e-2)

    def training_loss() -> float:  # the whole model, encoder included, in evaluation mode
        model.eval()
        encoded = model.tokenizer(texts[:160], padding=True, return_tensors="pt")
        targets = torch.tensor([model.labels.index(label) for label in labels[:160]])
        with torch.no_grad():
            return float(torch.nn.functional.cross_entropy(model(dict(encoded)), targets))

    before = training_loss()
    calls = []
    model.backbone.register_forward_hook(lambda module, args, output: calls.append(1))
    _trainer(tmp_path, max_epochs=20).finetune(model, datamodule=dm, strategy="freeze")  # cached epochs are cheap
    assert len(calls) == 10 + 5  # one pass over 160 training and 80 validation texts, not one per epoch
    calls.clear()
    after = training_loss()
    # the head trained on cached features fits the real model: measured after/before 0.55-0.75 over seeds 0-4
    assert len(calls) == 1 and after < 0.9 * before


def test_predict_single_list_and_outputs(tiny_bert, tmp_path):
    model = _model(tiny_bert)
    assert model.predict("a good film") in ("neg", "pos")
    texts = ["a good film", "dull", "", "the plot was awful"]
    labels = model.predict(texts)
    probs = torch.tensor(model.predict(texts, output="probabilities"))
    logits = torch.tensor(model.predict(texts, output="logits"))
    assert len(labels) == 4 and probs.shape == (4, 2) and torch.allclose(probs.sum(1), torch.ones(4))
    assert torch.allclose(probs, logits.softmax(1), atol=1e-6)
    assert model.predict(texts, output="classes") == probs.argmax(1).tolist()
    assert labels == [model.labels[i] for i in probs.argmax(1).tolist()]
    dm = TextClassificationData.from_lists(predict_data=texts, batch_size=3)
    batches = _trainer(tmp_path).predict(model, datamodule=dm, output="labels")
    assert [label for batch in batches for label in batch] == labels
    with pytest.raises(ConfigurationError, match="string or a list of strings"):
        model.predict(42)


def test_batches_pad_to_longest_and_truncate(tiny_bert):
    model = _model(tiny_bert, max_length=16)
    collate = model.input_transform.collate("train")
    batch = collate([{"input": "good film", "target": 1}, {"input": "the plot was very dull", "target": 0}])
    ids, mask = batch["input"]["input_ids"], batch["input"]["attention_mask"]
    assert ids.shape == (2, 7) and mask.sum(1).tolist() == [4, 7]  # [CLS] ... [SEP], padded to the longest only
    assert batch["target"].tolist() == [1, 0]
    long = collate([{"input": "good " * 5000, "target": 1}])
    assert long["input"]["input_ids"].shape == (1, 16)
    assert model.predict("good " * 5000) in ("neg", "pos")  # over-long text: truncated, no crash


def test_max_length_is_capped_by_position_embeddings(tmp_path):
    folder = build_tiny_bert(tmp_path / "short", max_position_embeddings=24)
    model = _model(folder, max_length=1000)
    assert model.max_length == 24
    assert torch.tensor(model.predict(["good " * 300], output="logits")).shape == (1, 2)


def test_multi_label(tiny_bert, tmp_path):
    texts, _ = make_reviews(48)
    targets = [["pos", "long"] if len(t) > 25 else ["pos"] if i % 2 == 0 else ["neg"] for i, t in enumerate(texts)]
    dm = TextClassificationData.from_lists(train_data=texts, train_targets=targets, val_split=0.25, batch_size=8)
    assert dm.multi_label and dm.labels == ["long", "neg", "pos"]
    model = _model(tiny_bert, labels=dm.labels, multi_label=True)
    trainer = _trainer(tmp_path, max_epochs=1)
    trainer.fit(model, datamodule=dm)
    assert {"val_f1score", "val_accuracy"} <= set(trainer.callback_metrics)
    probs = torch.tensor(model.predict(texts[:3], output="probabilities"))
    assert probs.shape == (3, 3) and not torch.allclose(probs.sum(1), torch.ones(3))  # sigmoid per class
    assert all(set(labels) <= set(dm.labels) for labels in model.predict(texts[:3]))
    with pytest.raises(ConfigurationError, match="multi-label but the model has multi_label=False"):
        trainer.fit(_model(tiny_bert, labels=dm.labels), datamodule=dm)


def test_checkpoint_round_trip_without_hub_or_original_folder(tmp_path, monkeypatch):
    folder = build_tiny_bert(tmp_path / "model_to_delete")
    texts, labels = make_reviews(24)
    dm = TextClassificationData.from_lists(train_data=texts, train_targets=labels, batch_size=8)
    model = _model(folder, max_length=20)
    trainer = _trainer(tmp_path)
    trainer.fit(model, datamodule=dm)
    trainer.save_checkpoint(tmp_path / "text.ckpt")
    expected = model.predict(texts, output="logits")
    checkpoint = torch.load(tmp_path / "text.ckpt", weights_only=True)
    assert {"config.json", "tokenizer.json"} <= set(checkpoint["text_backbone_files"])
    shutil.rmtree(folder)

    import huggingface_hub

    def no_hub(*args, **kwargs):
        raise AssertionError("the hub must not be used")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_hub)
    loaded = TextClassifier.load_from_checkpoint(tmp_path / "text.ckpt")
    assert loaded.hparams["backbone"] == folder and loaded.max_length == 20 and loaded.labels == ["neg", "pos"]
    assert torch.allclose(torch.tensor(loaded.predict(texts, output="logits")), torch.tensor(expected), atol=1e-5)
    assert loaded.predict(texts) == model.predict(texts)
    loaded_dm = TextClassificationData.from_lists(predict_data=texts[:4], batch_size=2)  # a fresh datamodule transform
    predicted = _trainer(tmp_path).predict(loaded, datamodule=loaded_dm, output="labels")
    assert [label for batch in predicted for label in batch] == model.predict(texts[:4])


def test_bad_configuration(tiny_bert, tmp_path):
    with pytest.raises(ConfigurationError, match="needs num_classes or labels"):
        TextClassifier(backbone=tiny_bert, pretrained=False)
    with pytest.raises(ConfigurationError, match="labels has 2 names but num_classes=3"):
        TextClassifier(3, backbone=tiny_bert, labels=["a", "b"], pretrained=False)
    with pytest.raises(ConfigurationError, match=r"Cannot load text backbone '.*no_such_model'"):
        TextClassifier(2, backbone=str(tmp_path / "no_such_model"))
    texts, labels = make_reviews(12)
    dm = TextClassificationData.from_lists(train_data=texts, train_targets=[f"c{i % 3}" for i in range(12)])
    with pytest.raises(ConfigurationError, match="data has 3 classes but the model was built for 2"):
        _trainer(tmp_path).fit(_model(tiny_bert), datamodule=dm)
    assert "sentence-transformers/all-MiniLM-L6-v2" in TextClassifier.available_backbones("*MiniLM*")


def test_predict_batches_shortest_first_and_keeps_the_input_order(tiny_bert):
    model = _model(tiny_bert).eval()
    texts = ["the plot was awful and far too long " * (i % 5) + f"film {i}" for i in range(11)]
    one_by_one = [model.predict(text, output="logits") for text in texts]
    batched = model.predict(texts, output="logits", batch_size=3)
    torch.testing.assert_close(torch.tensor(batched), torch.tensor(one_by_one), rtol=1e-4, atol=1e-5)
    assert model.predict(texts, batch_size=3) == model.predict(texts, batch_size=64)
    with pytest.raises(ConfigurationError, match="string or a list of strings"):
        model.predict(["fine"] * 9 + [3], batch_size=2)
