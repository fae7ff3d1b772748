"""SemanticSegmentation on tiny random networks: forward, fit with metrics, freezing, predictions at the
original size, sliding windows, checkpoints, registries and offline weights."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from flash.errors import ConfigurationError
from flash.image import SemanticSegmentation, SemanticSegmentationData
from flash.image.segmentation.metrics import confusion_matrix, scores
from flash.image.segmentation.predict import sliding_window, window_starts

from .conftest import quiet_trainer, tiny_model, write_pairs


@pytest.fixture
def datamodule(tmp_path):
    images, masks = write_pairs(tmp_path / "data", count=6)
    return SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks, val_split=0.34,
                                                 num_classes=3, labels=["bg", "a", "b"], batch_size=2, num_workers=0,
                                                 transform_kwargs=dict(image_size=(32, 32)))


@pytest.mark.parametrize("head, backbone", [("deeplabv3plus", "test_efficientnet"), ("unet", "tu-test_resnet"),
                                            ("torchvision:lraspp", "mobilenet_v3_large")])
def test_forward_gives_logits_at_any_input_size(head, backbone):
    model = tiny_model(head=head, backbone=backbone).eval()
    with torch.no_grad():
        assert model(torch.randn(2, 3, 40, 57)).shape == (2, 3, 40, 57)  # padded to 64x64 inside, cropped back


def test_fit_logs_miou_per_class_iou_pixel_accuracy_and_dice(tmp_path, datamodule):
    model = tiny_model(labels=datamodule.labels)
    trainer = quiet_trainer(tmp_path, max_epochs=1)
    trainer.fit(model, datamodule=datamodule)
    metrics = trainer.callback_metrics
    for name in ("val_mIoU", "val_pixel_accuracy", "val_dice", "val_loss", "val_iou_bg"):
        assert name in metrics and 0.0 <= float(metrics[name]) <= (1.0 if "loss" not in name else 100.0), name


def test_metrics_and_loss_skip_ignored_pixels():
    target = torch.tensor([[0, 1, 255, 255]])
    preds = torch.tensor([[0, 1, 0, 1]])
    matrix = confusion_matrix(preds, target, 2, 255)
    assert matrix.tolist() == [[1, 0], [0, 1]]
    results = scores(matrix)
    assert float(results["mIoU"]) == 1.0 and float(results["pixel_accuracy"]) == 1.0 and float(results["dice"]) == 1.0
    model = tiny_model(num_classes=2)
    logits = torch.tensor([[[[5.0, -5.0, 0.3, 9.0]], [[-5.0, 5.0, 0.1, -9.0]]]])  # (1, 2, 1, 4)
    with_ignored = model.compute_loss(logits, torch.tensor([[[0, 1, 255, 255]]]))
    without = model.compute_loss(logits[..., :2], torch.tensor([[[0, 1]]]))
    assert torch.allclose(with_ignored, without)


@pytest.mark.parametrize("loss_fn", ["dice", "focal", lambda logits, target: logits.mean() * 0 + 1.0])
def test_dice_focal_or_a_callable_loss(loss_fn):
    model = tiny_model(num_classes=2, loss_fn=loss_fn)
    loss = model.compute_loss(torch.randn(2, 2, 8, 8), torch.randint(0, 2, (2, 8, 8)))
    assert loss.ndim == 0 and torch.isfinite(loss)
    with pytest.raises(ConfigurationError, match="Did you mean 'dice'"):
        tiny_model(loss_fn="dicee")


def test_freeze_finetune_trains_the_decoder_only(tmp_path, datamodule):
    model = tiny_model()
    encoder_before = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    decoder_before = {k: v.clone() for k, v in model.model.decoder.state_dict().items()}
    quiet_trainer(tmp_path, max_epochs=1).finetune(model, datamodule=datamodule, strategy="freeze")
    assert all(not p.requires_grad for p in model.backbone.parameters())
    assert all(torch.equal(v, model.backbone.state_dict()[k]) for k, v in encoder_before.items())
    assert any(not torch.equal(v, model.model.decoder.state_dict()[k]) for k, v in decoder_before.items())
    quiet_trainer(tmp_path, max_epochs=2).finetune(model, datamodule=datamodule, strategy=("freeze_unfreeze", 1))
    assert all(p.requires_grad for p in model.backbone.parameters())


def test_predict_answers_at_the_original_size_for_every_input_kind(tmp_path):
    model = tiny_model()
    images, _ = write_pairs(tmp_path, count=2, size=(45, 70))
    path = str(images / "0.png")
    array = np.asarray(Image.open(path))
    single = model.predict(path)
    assert len(single) == 45 and len(single[0]) == 70 and {v for row in single for v in row} <= {0, 1, 2}
    assert model.predict(array, output="classes").shape == (45, 70)
    assert model.predict(Image.open(path), output="classes").tolist() == single
    assert [p.shape for p in model.predict(images, output="probabilities")] == [(3, 45, 70)] * 2
    probabilities = model.predict(path, output="probabilities")
    assert np.allclose(probabilities.sum(0), 1.0, atol=1e-5)
    assert model.predict([path, path], output="preds")[0].shape == (3, 45, 70)
    with pytest.raises(ConfigurationError, match="Did you mean 'labels'"):
        model.predict(path, output="label")


def test_trainer_predict_from_files_gives_each_image_its_size(tmp_path):
    model = tiny_model()
    small, _ = write_pairs(tmp_path / "a", count=1, size=(40, 60))
    large, _ = write_pairs(tmp_path / "b", count=1, size=(72, 50))
    datamodule = SemanticSegmentationData.from_files(predict_files=[str(small / "0.png"), str(large / "0.png")],
                                                     batch_size=2, num_classes=3, num_workers=0)
    trainer = quiet_trainer(tmp_path)
    logits = trainer.predict(model, datamodule=datamodule)
    assert [tuple(item.shape) for item in logits[0]] == [(3, 40, 60), (3, 72, 50)]
    labels = trainer.predict(model, datamodule=datamodule, output="labels")[0]
    assert [(len(m), len(m[0])) for m in labels] == [(40, 60), (72, 50)]


def test_sliding_window_equals_the_whole_image_for_a_pixelwise_model():
    image = torch.randn(3, 70, 100)
    logits = sliding_window(lambda x: x[:, :2] * 2.0, image, window=(32, 48), overlap=0.3, batch_size=3)
    assert logits.shape == (2, 70, 100) and torch.allclose(logits, image[:2] * 2.0, atol=1e-6)
    small = sliding_window(lambda x: x[:, :2] * 2.0, image[:, :20, :30], window=(32, 48))
    assert small.shape == (2, 20, 30)  # padded to one window, cut back
    assert window_starts(100, 48, 33) == [0, 33, 52]


def test_sliding_window_predict_keeps_the_full_resolution(tmp_path):
    model = tiny_model(image_size=(32, 32))
    images, _ = write_pairs(tmp_path, count=1, size=(80, 110))
    mask = model.predict(str(images / "0.png"), sliding_window=True, overlap=0.5, output="classes")
    assert mask.shape == (80, 110)


def test_checkpoint_round_trip_gives_the_same_masks(tmp_path, datamodule):
    model = tiny_model(labels=["bg", "a", "b"], labels_map={0: (0, 0, 0), 1: (255, 0, 0), 2: (0, 255, 0)})
    trainer = quiet_trainer(tmp_path, max_epochs=1)
    trainer.fit(model, datamodule=datamodule)
    trainer.save_checkpoint(tmp_path / "model.pt")
    loaded = SemanticSegmentation.load_from_checkpoint(str(tmp_path / "model.pt"))
    path = datamodule.train_dataset.source.samples[0]["input"]
    assert loaded.predict(path) == model.eval().predict(path)
    assert loaded.labels == ["bg", "a", "b"] and loaded.labels_map[1] == (255, 0, 0)
    assert loaded.input_transform.image_size == (32, 32)


def test_registries_list_and_suggest():
    heads = SemanticSegmentation.available_heads()
    for head in ("unet", "fpn", "deeplabv3", "deeplabv3plus", "pspnet", "linknet", "pan", "manet", "upernet",
                 "segformer", "torchvision:deeplabv3", "torchvision:lraspp", "torchvision:fcn"):
        assert head in heads
    assert "smp:resnet34" in SemanticSegmentation.available_backbones("resnet3*")
    assert "timm:mobilenetv3_large_100" in SemanticSegmentation.available_backbones("mobilenetv3_large*")
    with pytest.raises(ConfigurationError, match=r"Unknown segmentation backbone 'resnet81'. Did you mean 'resnet18'"):
        tiny_model(backbone="resnet81")
    with pytest.raises(ConfigurationError, match=r"Did you mean 'unet'.*SemanticSegmentation.available_heads\(\)"):
        tiny_model(head="unett")
    with pytest.raises(ConfigurationError, match="The 'torchvision:fcn' head takes the backbones 'resnet50'"):
        tiny_model(head="torchvision:fcn", backbone="resnet18")


@pytest.mark.parametrize("head, backbone", [("fpn", "resnet18"), ("unet", "test_efficientnet"),
                                            ("torchvision:lraspp", "mobilenet_v3_large")])
def test_pretrained_weights_missing_from_the_caches_fail_at_once(tmp_path, monkeypatch, head, backbone):
    """pretrained=True with empty caches: a clear error before any network connection is even attempted."""
    import socket

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    connections = []
    monkeypatch.setattr(socket.socket, "connect", lambda self, address: connections.append(address))
    monkeypatch.setattr(socket, "create_connection", lambda address, *a, **k: connections.append(address))
    with pytest.raises(ConfigurationError, match=r"pretrained weights of .* are not in the local caches.*"
                                                 r"never downloads.*pretrained=False"):
        SemanticSegmentation(3, head=head, backbone=backbone, pretrained=True)
    assert connections == []
    assert not (tmp_path / "torch" / "hub" / "checkpoints").exists() or not any(
        (tmp_path / "torch" / "hub" / "checkpoints").iterdir())


def test_pretrained_weights_in_the_hugging_face_cache_load_offline(tmp_path, monkeypatch):
    """A weights file placed in the HF cache layout (as a download leaves it) is what the encoder loads."""
    from huggingface_hub import constants
    from segmentation_models_pytorch.encoders import encoders, get_encoder

    settings = encoders["resnet18"]["pretrained_settings"]["imagenet"]
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    snapshot = (tmp_path / "hf" / "hub" / f"models--{settings['repo_id'].replace('/', '--')}" / "snapshots"
                / settings["revision"])
    snapshot.mkdir(parents=True)
    torch.manual_seed(1)
    reference = get_encoder("resnet18", weights=None)
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in reference.state_dict().items()}, str(snapshot / "model.safetensors"))
    (snapshot / "config.json").write_text("{}")
    refs = snapshot.parent.parent / "refs"
    refs.mkdir()
    (refs / "main").write_text(settings["revision"])
    model = SemanticSegmentation(3, head="fpn", backbone="resnet18", pretrained=True)
    assert torch.equal(model.backbone.state_dict()["conv1.weight"], reference.state_dict()["conv1.weight"])
