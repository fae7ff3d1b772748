"""ObjectDetector: heads and backbones, training, mAP, predictions in original pixels, checkpoints."""

from __future__ import annotations

import pytest
import torch

from flash.errors import ConfigurationError
from flash.image import ObjectDetector
from flash.image.detection.heads import HEADS, load_coco_weights

from .conftest import quiet_trainer, save_noise, tiny_model

LABELS = ["background", "red_square", "green_circle", "blue_triangle"]


def _batch(n: int = 2, size: int = 64) -> dict:
    images = [torch.rand(3, size, size) for _ in range(n)]
    targets = [{"boxes": torch.tensor([[8.0, 8.0, 30.0, 40.0]]), "labels": torch.tensor([1 + i % 3])} for i in range(n)]
    targets[-1] = {"boxes": torch.zeros(0, 4), "labels": torch.zeros(0, dtype=torch.int64)}  # no boxes is allowed
    return {"input": images, "target": targets, "metadata": [{"size": (size, size)}] * n}


@pytest.mark.parametrize("head,backbone", [("faster_rcnn", "resnet18_fpn"), ("retinanet", "mobilenet_v3_large_fpn"),
                                           ("fcos", "resnet18_fpn"), ("ssdlite", "mobilenet_v3_large")])
@pytest.mark.slow
def test_each_head_trains_one_step(head, backbone):
    model = tiny_model(head, backbone)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3)
    loss = model.training_step(_batch(), 0)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss.item() > 0
    loss.backward()
    optimizer.step()
    detections = model.detect(_batch())
    assert len(detections) == 2 and detections[0]["boxes"].shape[-1] == 4
    if len(detections[0]["labels"]):
        assert (
            detections[0]["labels"].min() >= 1 and detections[0]["labels"].max() <= 3
        )  # user indices, never background


def test_available_heads_and_backbones():
    assert ObjectDetector.available_heads() == ["efficientdet", "faster_rcnn", "fcos", "retinanet", "ssdlite"]
    assert ObjectDetector.available_backbones("ssdlite") == ["mobilenet_v3_large"]
    assert "resnet50_fpn" in ObjectDetector.available_backbones("fcos")
    assert set(ObjectDetector.available_backbones()) == set(HEADS.available_keys())


def test_impossible_pair_lists_valid_backbones():
    with pytest.raises(ConfigurationError, match="Valid backbones for 'ssdlite': 'mobilenet_v3_large'"):
        ObjectDetector(3, head="ssdlite", backbone="resnet18_fpn", pretrained=False)
    with pytest.raises(ConfigurationError, match="Did you mean 'fcos'"):
        ObjectDetector(3, head="fcoss", pretrained=False)


def test_num_classes_and_labels_must_agree():
    with pytest.raises(ConfigurationError, match="needs num_classes or labels"):
        ObjectDetector(pretrained=False)
    with pytest.raises(ConfigurationError, match="does not match"):
        ObjectDetector(5, labels=["background", "a", "b"], pretrained=False)
    model = ObjectDetector(labels=["cat", "dog"], head="fcos", pretrained=False, image_size=64)
    assert model.labels == ["background", "cat", "dog"] and model.num_classes == 3


@pytest.mark.parametrize("head,internal", [("fcos", 2), ("faster_rcnn", 3)])
def test_background_handling_per_head(head, internal):
    model = tiny_model(head, labels=["background", "a", "b"])
    classifier = (
        model.model.roi_heads.box_predictor.cls_score.out_features
        if head == "faster_rcnn"
        else model.model.head.classification_head.num_classes
    )
    assert classifier == internal  # fcos: foreground only; faster_rcnn: background included
    assert model.offset == (1 if head == "fcos" else 0)


@pytest.mark.slow
def test_fit_logs_coco_map(fitted):
    model, trainer, datamodule = fitted
    for key in ("val_map", "val_map_50", "val_map_75", "val_mar_100"):
        assert key in trainer.callback_metrics and -1.0 <= trainer.callback_metrics[key] <= 1.0
    assert model.labels == datamodule.labels  # adopted from the data, so the checkpoint keeps them
    results = trainer.validate(model, datamodule=datamodule)
    assert "val_map" in (results[0] if isinstance(results, list) else results)


def test_map_is_one_for_perfect_detections():
    model = tiny_model()
    batch = _batch(n=2)
    model._user_detections = lambda outputs, b: [  # what both the one- and two-pass validation report
        {"boxes": t["boxes"], "labels": t["labels"], "scores": torch.ones(len(t["labels"]))} for t in b["target"]
    ]
    model.validation_step(batch, 0)
    results = model.map_metrics["val"].compute()
    assert results["map"].item() == pytest.approx(1.0) and results["map_50"].item() == pytest.approx(1.0)


@pytest.mark.slow
def test_predictions_are_in_original_pixels(fitted, tmp_path):
    model, _, _ = fitted
    path = save_noise(tmp_path / "wide.png", size=(100, 200))  # resized to 32 x 64 inside
    raw = model.predict(str(path), threshold=0.0)
    boxes = torch.tensor(raw["boxes"]).reshape(-1, 4)
    assert len(boxes) > 0
    assert boxes[:, [0, 2]].max() <= 200.0 + 1e-3 and boxes[:, [1, 3]].max() <= 100.0 + 1e-3
    assert boxes[:, 2].max() > 64.0  # beyond the resized width: the resize was undone
    batch = {"input": [torch.rand(3, 32, 64)], "metadata": [{"size": (100, 200)}]}
    scaled = model.detect(batch)[0]["boxes"]
    batch["metadata"] = [{"size": (32, 64)}]
    assert torch.allclose(scaled, model.detect(batch)[0]["boxes"] * torch.tensor([200 / 64, 100 / 32] * 2), atol=1e-3)


@pytest.mark.slow
def test_predict_outputs_and_threshold(fitted, tmp_path):
    model, trainer, datamodule = fitted
    batches = trainer.predict(model, datamodule=datamodule, output="preds")
    preds = [p for batch in batches for p in batch]
    assert len(preds) == 4 and set(preds[0]) == {"boxes", "labels", "scores"}
    assert all(name in model.labels[1:] for p in preds for name in p["labels"])
    assert all(s >= model.threshold for p in preds for s in p["scores"])
    labels = trainer.predict(model, datamodule=datamodule, output="labels")
    assert [len(x) for b in labels for x in b] == [len(p["labels"]) for p in preds]
    everything = model.predict(str(datamodule.predict_dataset.samples[0]["input"]), threshold=0.0)
    nothing = model.predict(str(datamodule.predict_dataset.samples[0]["input"]), threshold=1.01)
    assert len(everything["boxes"]) > 0 and nothing == {"boxes": [], "labels": [], "scores": []}
    assert isinstance(model.predict([str(datamodule.predict_dataset.samples[0]["input"])] * 2), list)
    with pytest.raises(ConfigurationError, match="output"):
        model.format_predictions([], "probabilities")


@pytest.mark.slow
def test_checkpoint_round_trip(fitted, tmp_path):
    model, trainer, datamodule = fitted
    trainer.save_checkpoint(tmp_path / "detector.pt")
    loaded = ObjectDetector.load_from_checkpoint(str(tmp_path / "detector.pt"))
    assert loaded.labels == datamodule.labels and loaded.hparams["norm"] == "bn"
    path = str(datamodule.predict_dataset.samples[0]["input"])
    before, after = model.predict(path, threshold=0.0), loaded.predict(path, threshold=0.0)
    assert len(before["boxes"]) > 0 and before == after


@pytest.mark.slow
def test_finetune_freeze_freezes_the_trunk_only(fitted, tmp_path):
    _, _, datamodule = fitted
    model = tiny_model(labels=datamodule.labels, norm="frozen_bn")  # plain BN would keep training (train_bn=True)
    trunk_before = [p.detach().clone() for p in model.backbone.parameters()]
    head_before = [p.detach().clone() for p in model.model.head.parameters()]
    quiet_trainer(tmp_path, max_steps=2).finetune(model, datamodule=datamodule, strategy="freeze")
    assert all(torch.equal(a, b) for a, b in zip(trunk_before, model.backbone.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(head_before, model.model.head.parameters()))


def test_coco_weights_load_everything_but_the_classifier():
    model = tiny_model("fcos", "resnet18_fpn", labels=["background", "a", "b"])
    donor = tiny_model("fcos", "resnet18_fpn", labels=["background"] + [str(i) for i in range(90)])  # 90 classes
    missing = load_coco_weights(model.model, "fcos_resnet50_fpn", state=donor.model.state_dict())
    assert missing and all(k.startswith("head.classification_head.cls_logits") for k in missing)
    key = "backbone.body.conv1.weight"
    assert torch.equal(model.model.state_dict()[key], donor.model.state_dict()[key])


@pytest.mark.parametrize("head", ["fcos", "retinanet"])
def test_validation_takes_its_loss_and_detections_from_one_pass_equal_to_two(head):
    """RetinaNet and FCOS validate in one forward pass (flash/image/detection/one_pass.py): the same loss parts and
    detections as the training-mode loss pass plus the eval-mode detection pass, at half the network's cost."""
    from flash.core.data import INPUT, METADATA, TARGET
    from flash.image.detection.one_pass import losses_and_detections

    model = tiny_model(head)
    model.eval()
    torch.manual_seed(1)
    images = [torch.rand(3, 96, 72), torch.rand(3, 50, 80)]  # larger than image_size=64: boxes are rescaled
    targets = [{"boxes": torch.tensor([[4.0, 6.0, 30.0, 40.0]]), "labels": torch.tensor([1])},
               {"boxes": torch.tensor([[10.0, 2.0, 50.0, 30.0], [0.0, 0.0, 12.0, 12.0]]),
                "labels": torch.tensor([2, 3])}]
    batch = {INPUT: images, TARGET: targets, METADATA: [{"size": (96, 72)}, {"size": (50, 80)}]}
    calls = []
    model.model.backbone.register_forward_hook(lambda *args: calls.append(1))
    losses, detections = losses_and_detections(model.model, images, model._own_targets(batch))
    assert len(calls) == 1
    expected = model.evaluation_losses(batch)
    assert losses.keys() == expected.keys() and all(torch.allclose(losses[k], expected[k]) for k in expected)
    for one, two in zip(model._user_detections(detections, batch), model.detect(batch)):
        assert one.keys() == two.keys() and all(torch.equal(one[k], two[k]) for k in one)
    assert not model.model.training  # the mode it had
    assert losses_and_detections(tiny_model("faster_rcnn").model, images, targets) is None  # two passes there
