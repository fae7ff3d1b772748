"""ImageClassifier: fit, finetune strategies, validate/test/predict, outputs, checkpoints, multi-label."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from flash.errors import ConfigurationError
from flash.image import ImageClassificationData, ImageClassifier
from tests.image.classification.conftest import TINY, color_image


def _data(folders, **kwargs):
    return ImageClassificationData.from_folders(train_folder=folders / "train", val_folder=folders / "val",
                                                test_folder=folders / "test", predict_folder=folders / "predict",
                                                batch_size=4, **kwargs)


def _model(datamodule, **kwargs):
    torch.manual_seed(0)
    return ImageClassifier(backbone=TINY, labels=datamodule.labels, learning_rate=0.01, **kwargs)


def test_fit_learns_validate_test_and_predict_every_output(folders, trainer):
    dm = _data(folders)
    model = _model(dm)
    t = trainer(max_epochs=6)
    t.fit(model, datamodule=dm)
    assert t.callback_metrics["val_accuracy"] == 1.0
    assert t.test(model, datamodule=dm)[0]["test_accuracy"] == 1.0
    assert t.validate(model, datamodule=dm)[0]["val_accuracy"] == 1.0
    labels = [x for batch in t.predict(model, datamodule=dm, output="labels") for x in batch]
    assert labels == ["blue", "red", "blue"]  # files 0_blue, 1_red, 2_blue
    classes = [x for b in t.predict(model, datamodule=dm, output="classes") for x in b]
    assert classes == [0, 1, 0]
    probs = torch.tensor([x for b in t.predict(model, datamodule=dm, output="probabilities") for x in b])
    assert probs.shape == (3, 2) and torch.allclose(probs.sum(-1), torch.ones(3), atol=1e-5)
    logits = torch.tensor([x for b in t.predict(model, datamodule=dm, output="logits") for x in b])
    assert torch.allclose(logits.softmax(-1), probs, atol=1e-5)
    preds = torch.tensor([x for b in t.predict(model, datamodule=dm, output="preds") for x in b])
    assert torch.allclose(preds, logits)


def test_transform_defaults_come_from_the_backbone_and_explicit_values_win(folders, trainer):
    dm = _data(folders, transform_kwargs={"image_size": (20, 24)})
    assert dm.transform.mean is None
    model = _model(dm)
    trainer(max_epochs=1).fit(model, datamodule=dm)
    assert dm.transform.image_size == (20, 24)  # the user's
    assert dm.transform.mean == (0.5, 0.5, 0.5) and dm.transform.std == (0.25, 0.25, 0.25)  # the backbone's
    assert dm.train_dataset[0]["input"].shape == (3, 20, 24)
    assert model.input_transform is dm.transform


def test_freeze_keeps_backbone_weights_and_trains_head(folders, trainer):
    dm = _data(folders)
    model = _model(dm)
    backbone_before = {
        k: v.clone() for k, v in model.backbone.state_dict().items() if "running" not in k and "num_batches" not in k
    }
    head_before = model.head.weight.detach().clone()
    trainer(max_epochs=2).finetune(model, datamodule=dm, strategy="freeze", train_bn=False)
    for key, value in model.backbone.state_dict().items():
        if key in backbone_before:
            assert torch.equal(value, backbone_before[key]), key
    assert not torch.equal(model.head.weight, head_before)


@pytest.mark.parametrize("strategy", ["no_freeze", ("freeze_unfreeze", 1), ("unfreeze_milestones", ((1, 2), 1))])
def test_unfreezing_strategies_train_the_backbone(folders, trainer, strategy):
    dm = _data(folders)
    model = _model(dm)
    first = model.backbone[0].weight.detach().clone()
    trainer(max_epochs=3).finetune(model, datamodule=dm, strategy=strategy)
    assert not torch.equal(model.backbone[0].weight, first)
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_checkpoint_round_trip_predicts_identically_without_datamodule(folders, trainer, tmp_path):
    dm = _data(folders, transform_kwargs={"image_size": 12})
    model = _model(dm)
    t = trainer(max_epochs=2)
    t.fit(model, datamodule=dm)
    t.save_checkpoint(tmp_path / "image_classification_model.pt")
    loaded = ImageClassifier.load_from_checkpoint(tmp_path / "image_classification_model.pt")
    assert loaded.labels == ["blue", "red"]
    assert loaded.input_transform.image_size == (12, 12) and loaded.input_transform.std == (0.25, 0.25, 0.25)
    files = sorted(str(p) for p in (folders / "predict").iterdir())
    assert loaded.predict(files, output="logits") == model.predict(files, output="logits")
    assert loaded.predict(folders / "predict") == model.predict(folders / "predict") == ["blue", "red", "blue"]


def test_predict_accepts_paths_folders_pil_numpy_and_tensors(folders, trainer):
    dm = _data(folders)
    model = _model(dm)
    trainer(max_epochs=6).fit(model, datamodule=dm)
    red = color_image("red", 7)
    assert model.predict(str(folders / "predict" / "1_red.png")) == "red"
    assert model.predict(Image.fromarray(red)) == "red"
    assert model.predict(Image.fromarray(red).convert("RGBA")) == "red"
    assert model.predict(red) == "red"
    assert model.predict(torch.from_numpy(red).permute(2, 0, 1)) == "red"
    assert model.predict(np.stack([red, color_image("blue", 8)])) == ["red", "blue"]
    assert model.predict([Image.fromarray(red)]) == ["red"]


def test_multi_label_uses_sigmoid_and_thresholded_labels(tmp_path, trainer):
    images = [color_image(c, i) for i, c in enumerate(["red", "blue"] * 8)]
    for i in range(0, 16, 4):  # half the red ones are also "bright"
        images[i] = np.clip(images[i].astype(int) + 25, 0, 255).astype(np.uint8)
    targets = [["red", "bright"] if i % 4 == 0 else (["red"] if i % 2 == 0 else ["blue"]) for i in range(16)]
    dm = ImageClassificationData.from_numpy(
        train_data=np.stack(images),
        train_targets=targets,
        val_data=np.stack(images[:4]),
        val_targets=targets[:4],
        batch_size=4,
    )
    assert dm.multi_label and dm.labels == ["blue", "bright", "red"]
    model = _model(dm, multi_label=True)
    t = trainer(max_epochs=8)
    t.fit(model, datamodule=dm)
    assert {"val_accuracy", "val_f1score"} <= set(t.callback_metrics)
    assert t.callback_metrics["val_accuracy"] >= 0.75
    probs = torch.tensor(model.predict(images[:2], output="probabilities"))
    assert probs.shape == (2, 3) and not torch.allclose(probs.sum(-1), torch.ones(2))  # independent sigmoids
    labels = model.predict(images[:2])
    assert all(isinstance(x, list) for x in labels) and "red" in labels[0] and "blue" in labels[1]


def test_heads_linear_module_or_factory(folders):
    dm = _data(folders)
    assert isinstance(_model(dm).head, torch.nn.Linear) and _model(dm).head.in_features == 16
    mlp = torch.nn.Sequential(torch.nn.Linear(16, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    assert _model(dm, head=mlp).head is mlp
    model = _model(
        dm,
        head=lambda features, classes: torch.nn.Sequential(torch.nn.Dropout(0.1), torch.nn.Linear(features, classes)),
    )
    assert model(torch.zeros(3, 3, 16, 16)).shape == (3, 2)
    with pytest.raises(ConfigurationError, match="head"):
        _model(dm, head=3)


def test_num_classes_from_labels_and_errors():
    assert ImageClassifier(backbone=TINY, labels=["a", "b", "c"]).num_classes == 3
    assert ImageClassifier(5, backbone=TINY).head.out_features == 5
    with pytest.raises(ConfigurationError, match="num_classes or labels"):
        ImageClassifier(backbone=TINY)
    with pytest.raises(ConfigurationError, match="does not match"):
        ImageClassifier(2, backbone=TINY, labels=["a", "b", "c"])


def test_unknown_backbone_suggests_close_matches():
    with pytest.raises(ConfigurationError, match=r"Did you mean 'resnet18'.*ImageClassifier.available_backbones\(\)"):
        ImageClassifier(2, backbone="resnet81")


def test_available_backbones_with_wildcards():
    names = ImageClassifier.available_backbones("*resnet1*")
    assert "timm:resnet18" in names and "torchvision:resnet18" in names
    assert all("resnet1" in n for n in names)
    assert TINY in ImageClassifier.available_backbones("tiny_*")
    assert "torchvision:mobilenet_v2" in ImageClassifier.available_backbones("torchvision:mobilenet*")
