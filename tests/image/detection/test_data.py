"""ObjectDetectionData: every from_*, the label map, transforms that move boxes, and each bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from flash.errors import ConfigurationError, DataError
from flash.image import ObjectDetectionData
from flash.image.detection.demo import demo_datamodule
from flash.image.detection.transforms import DetectionSampleTransform
from flash.image.detection.visualize import draw_predictions

from .conftest import save_noise, write_coco


def _voc(path, filename, objects):
    body = "".join(f"<object><name>{n}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>"
                   f"<ymax>{b[3]}</ymax></bndbox></object>" for n, b in objects)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<annotation><filename>{filename}</filename>{body}</annotation>")


def _one_image_coco(tmp_path, bbox, category_id=1, **kwargs):
    save_noise(tmp_path / "img" / "a.png", size=(48, 64))
    ann = write_coco(tmp_path / "a.json", [{"id": 7, "file_name": "a.png"}],
                     [{"id": 3, "image_id": 7, "category_id": category_id, "bbox": bbox}])
    return ObjectDetectionData.from_coco(train_folder=str(tmp_path / "img"), train_ann_file=str(ann), batch_size=1,
                                         **kwargs)


def test_from_coco_label_map_and_batches(shapes):
    dm = ObjectDetectionData.from_coco(
        train_folder=str(shapes["train_folder"]),
        train_ann_file=str(shapes["train_ann_file"]),
        val_folder=str(shapes["val_folder"]),
        val_ann_file=str(shapes["val_ann_file"]),
        batch_size=2,
        transform_kwargs={"image_size": 64},
    )
    assert dm.labels == ["background", "red_square", "green_circle", "blue_triangle"] and dm.num_classes == 4
    raw = json.loads(shapes["val_ann_file"].read_text())
    first = [a for a in raw["annotations"] if a["image_id"] == 0]
    batch = next(iter(dm.val_dataloader()))
    assert isinstance(batch["input"], list) and batch["input"][0].shape == (3, 48, 64)  # 96x128 -> longer side 64
    target = batch["target"][0]
    x, y, w, h = first[0]["bbox"]
    assert torch.allclose(target["boxes"][0], torch.tensor([x, y, x + w, y + h]) / 2.0)  # resized with the image
    assert target["labels"].tolist() == [a["category_id"] for a in first]  # ids 1..3 -> indices 1..3
    assert batch["metadata"][0]["size"] == (96, 128)


def test_from_voc_and_from_files_and_from_folders(tmp_path):
    for i in range(2):
        save_noise(tmp_path / "img" / f"{i}.png")
    _voc(tmp_path / "ann" / "0.xml", "0.png", [("dog", (5, 6, 20, 30))])
    _voc(tmp_path / "ann" / "1.xml", "1.png", [("cat", (1, 2, 10, 12)), ("dog", (30, 20, 60, 40))])
    voc = ObjectDetectionData.from_voc(
        train_folder=str(tmp_path / "img"), train_ann_folder=str(tmp_path / "ann"), predict_folder=str(tmp_path / "img")
    )
    assert voc.labels == ["background", "cat", "dog"] and len(voc.predict_dataset) == 2
    assert voc.train_dataset.samples[1]["target"] == {"boxes": [[1, 2, 10, 12], [30, 20, 60, 40]], "labels": [1, 2]}
    assert ObjectDetectionData.from_voc(
        ["dog", "cat"], train_folder=str(tmp_path / "img"), train_ann_folder=str(tmp_path / "ann")
    ).labels == ["background", "dog", "cat"]
    files = ObjectDetectionData.from_files(
        train_files=[str(tmp_path / "img" / "0.png"), str(tmp_path / "img" / "1.png")],
        train_targets=[["dog"], []],
        train_bboxes=[[{"xmin": 5, "ymin": 6, "width": 10, "height": 4}], []],
        predict_files=[str(tmp_path / "img" / "1.png")],
    )
    assert files.labels == ["background", "dog"]
    assert files.train_dataset.samples[0]["target"] == {"boxes": [[5.0, 6.0, 15.0, 10.0]], "labels": [1]}
    empty = files.train_dataset[1]  # an image without boxes is a valid sample
    assert empty["target"]["boxes"].shape == (0, 4)
    folders = ObjectDetectionData.from_folders(predict_folder=str(tmp_path / "img"))
    assert [s["metadata"]["filepath"].rsplit("/", 1)[1] for s in folders.predict_dataset.samples] == ["0.png", "1.png"]


def test_from_datasets():
    from PIL import Image

    image = Image.fromarray(np.zeros((40, 50, 3), dtype=np.uint8))
    train = [(image, {"boxes": torch.tensor([[1.0, 2.0, 20.0, 30.0]]), "labels": ["car"]})]
    dm = ObjectDetectionData.from_datasets(train, predict_dataset=[image])
    assert dm.labels == ["background", "car"] and dm.train_dataset.samples[0]["target"]["labels"] == [1]
    assert dm.predict_dataset[0]["input"].shape == (3, 409, 512)  # default image_size 512 on the longer side


def test_transform_flip_moves_boxes():
    from torchvision.transforms import v2

    step = DetectionSampleTransform(64, train=True)
    step.pipeline = v2.Compose([v2.ToImage(), v2.RandomHorizontalFlip(p=1.0), v2.ToDtype(torch.float32, scale=True)])
    image = np.zeros((32, 64, 3), dtype=np.uint8)
    out = step({"input": image, "target": {"boxes": [[0, 0, 10, 5]], "labels": [1]}})
    assert out["target"]["boxes"].tolist() == [[54.0, 0.0, 64.0, 5.0]] and out["metadata"]["size"] == (32, 64)


def test_boxes_outside_the_image_are_clipped_with_a_count(tmp_path):
    with pytest.warns(UserWarning, match=r"Fixed 1 boxes in the train data: clipped 1"):
        dm = _one_image_coco(tmp_path, [-5, 10, 100, 20])  # negative x and beyond the 64 px width
    assert dm.train_dataset.samples[0]["target"]["boxes"] == [[0.0, 10.0, 64.0, 30.0]]
    with pytest.raises(DataError, match=r"a.json' annotation 3 on image id 7 \('a.png'\): "
                                        r"box \[x, y, w, h\] = \[-5, 10, 100, 20\] reaches outside"):
        _one_image_coco(tmp_path, [-5, 10, 100, 20], bad_boxes="raise")


def test_degenerate_boxes_are_dropped_or_raise(tmp_path):
    with pytest.warns(UserWarning, match="dropped 1 with no area"):
        dm = _one_image_coco(tmp_path, [10, 10, 0, 5])
    assert dm.train_dataset.samples[0]["target"] == {"boxes": [], "labels": []}
    with pytest.raises(DataError, match="zero or negative width/height"):
        _one_image_coco(tmp_path, [10, 10, 0, 5], bad_boxes="raise")
    with pytest.raises(DataError, match="entirely outside"):
        _one_image_coco(tmp_path, [200, 10, 5, 5], bad_boxes="raise")
    with pytest.raises(ConfigurationError, match="bad_boxes"):
        _one_image_coco(tmp_path, [1, 1, 5, 5], bad_boxes="ignore")


def test_unknown_category_missing_image_and_malformed_json(tmp_path):
    with pytest.raises(DataError, match=r"a.json' annotation 3 has category_id 9.*known ids: \[1, 2\]"):
        _one_image_coco(tmp_path, [1, 1, 5, 5], category_id=9)
    ann = write_coco(
        tmp_path / "b.json",
        [{"id": 1, "file_name": "missing.png"}],
        [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}],
    )
    with pytest.raises(DataError, match=r"b.json' image id 1 \('missing.png'\) points to the image .*missing.png"):
        ObjectDetectionData.from_coco(train_folder=str(tmp_path), train_ann_file=str(ann))
    (tmp_path / "broken.json").write_text('{"images": [')
    with pytest.raises(DataError, match="broken.json' is not valid JSON"):
        ObjectDetectionData.from_coco(train_folder=str(tmp_path), train_ann_file=str(tmp_path / "broken.json"))
    (tmp_path / "shape.json").write_text('{"images": [{"file_name": "a.png"}], "annotations": [], "categories": []}')
    with pytest.raises(DataError, match=r"images\[0\] needs the fields id, file_name"):
        ObjectDetectionData.from_coco(train_folder=str(tmp_path), train_ann_file=str(tmp_path / "shape.json"))
    with pytest.raises(ConfigurationError, match="Pass both train_folder and train_ann_file"):
        ObjectDetectionData.from_coco(train_folder=str(tmp_path))


def test_malformed_voc_and_unknown_labels(tmp_path):
    save_noise(tmp_path / "img" / "0.png")
    (tmp_path / "ann").mkdir()
    (tmp_path / "ann" / "0.xml").write_text("<annotation><filename>0.png</filename><object>")
    with pytest.raises(DataError, match="0.xml' is not valid XML"):
        ObjectDetectionData.from_voc(train_folder=str(tmp_path / "img"), train_ann_folder=str(tmp_path / "ann"))
    (tmp_path / "ann" / "0.xml").write_text(
        "<annotation><filename>0.png</filename><object><name>cat</name>"
        "<bndbox><xmin>1</xmin><ymin>x</ymin><xmax>5</xmax><ymax>5</ymax>"
        "</bndbox></object></annotation>"
    )
    with pytest.raises(DataError, match="0.xml' object 0: <bndbox> coordinates must be numbers"):
        ObjectDetectionData.from_voc(train_folder=str(tmp_path / "img"), train_ann_folder=str(tmp_path / "ann"))
    _voc(tmp_path / "ann" / "0.xml", "0.png", [("cow", (1, 1, 5, 5))])
    with pytest.raises(DataError, match=r"0.xml': label 'cow' of the train data is not in the label map \['cat'\]"):
        ObjectDetectionData.from_voc(
            ["cat"], train_folder=str(tmp_path / "img"), train_ann_folder=str(tmp_path / "ann")
        )
    with pytest.raises(DataError, match="1 targets but 2 bboxes"):
        ObjectDetectionData.from_files(
            train_files=[str(tmp_path / "img" / "0.png")],
            train_targets=[["a"]],
            train_bboxes=[[{"xmin": 1, "ymin": 1, "width": 2, "height": 2}] * 2],
        )
    with pytest.raises(DataError, match="a bbox must be a dict with keys xmin, ymin, width, height"):
        ObjectDetectionData.from_files(
            train_files=[str(tmp_path / "img" / "0.png")], train_targets=[["a"]], train_bboxes=[[[1, 1, 2, 2]]]
        )


def test_demo_is_deterministic_and_visualize_draws(tmp_path):
    a = demo_datamodule(tmp_path / "a", num_train=3, num_val=2)
    b = demo_datamodule(tmp_path / "b", num_train=3, num_val=2)
    assert (tmp_path / "a" / "train" / "annotations.json").read_text() == (
        tmp_path / "b" / "train" / "annotations.json"
    ).read_text()
    assert a.labels == b.labels == ["background", "red_square", "green_circle", "blue_triangle"]
    sample = a.train_dataset.samples[0]
    path = sample["metadata"]["filepath"]
    truth = {"boxes": sample["target"]["boxes"], "labels": [a.labels[i] for i in sample["target"]["labels"]]}
    prediction = {"boxes": [[2.0, 2.0, 40.0, 40.0]], "labels": ["red_square"], "scores": [0.9]}
    drawn = draw_predictions(path, prediction, truth, path=tmp_path / "out.png")
    from PIL import Image

    saved = np.array(Image.open(tmp_path / "out.png"))
    assert saved.shape == (128, 128, 3) and torch.equal(drawn.permute(1, 2, 0), torch.from_numpy(saved))
    assert tuple(saved[2, 20]) == (255, 0, 0)  # the top edge of the predicted box is red
