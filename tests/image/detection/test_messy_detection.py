"""Detection data that used to merge, warn obscurely or turn sideways; validation loss (issue 19)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import flash
from flash.errors import DataError
from flash.image import ObjectDetectionData
from tests.image.classification.test_messy_data import exif_jpeg
from tests.image.detection.conftest import save_noise, tiny_model, write_coco


def test_duplicate_image_ids_name_both_entries(tmp_path):
    save_noise(tmp_path / "a.png"), save_noise(tmp_path / "b.png")
    images = [{"id": 1, "file_name": "a.png"}, {"id": 1, "file_name": "b.png"}]
    ann = write_coco(tmp_path / "ann.json", images, [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]}])
    with pytest.raises(DataError, match=r"images\[0\] \(file_name 'a.png'\) and images\[1\] "
                                        r"\(file_name 'b.png'\) share the id 1"):
        ObjectDetectionData.from_coco(train_folder=str(tmp_path), train_ann_file=str(ann))


def test_duplicate_category_ids_name_both_entries(tmp_path):
    save_noise(tmp_path / "a.png")
    categories = [{"id": 1, "name": "cat"}, {"id": 1, "name": "dog"}]
    ann = write_coco(tmp_path / "ann.json", [{"id": 1, "file_name": "a.png"}], [], categories)
    with pytest.raises(DataError, match=r"categories\[0\] \(name 'cat'\) and categories\[1\] \(name 'dog'\)"):
        ObjectDetectionData.from_coco(train_folder=str(tmp_path), train_ann_file=str(ann))


def test_coco_box_warning_shows_the_users_xywh_and_annotation_id(tmp_path):
    save_noise(tmp_path / "a.png")  # 64 wide, 48 high
    ann = write_coco(tmp_path / "ann.json", [{"id": 1, "file_name": "a.png"}],
                     [{"id": 7, "image_id": 1, "category_id": 1, "bbox": [-5, 2, 10, 10]}])
    with pytest.warns(UserWarning, match=r"annotation 7 on image id 1 \('a.png'\): "
                                         r"box \[x, y, w, h\] = \[-5, 2, 10, 10\] reaches outside the 64x48 image"):
        ObjectDetectionData.from_coco(train_folder=str(tmp_path), train_ann_file=str(ann))


def test_exif_boxes_are_read_in_upright_coordinates(tmp_path, recwarn):
    exif_jpeg(tmp_path / "phone.jpg", size=(64, 32))  # stored 64 x 32, upright 32 wide x 64 high
    ann = write_coco(tmp_path / "ann.json", [{"id": 1, "file_name": "phone.jpg"}],
                     [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 40, 20, 20]}])
    datamodule = ObjectDetectionData.from_coco(train_folder=str(tmp_path), train_ann_file=str(ann), batch_size=1)
    assert datamodule.train_dataset.samples[0]["target"]["boxes"] == [[2.0, 40.0, 22.0, 60.0]]  # fits upright: kept
    assert not [w for w in recwarn if "box" in str(w.message)]
    assert datamodule.train_dataset[0]["metadata"]["size"] == (64, 32)


def test_drawn_detections_are_upright(tmp_path):
    from flash.image.detection.visualize import draw_predictions

    path = exif_jpeg(tmp_path / "phone.jpg", size=(64, 32))
    canvas = draw_predictions(path, {"boxes": [[2, 40, 22, 60]], "labels": ["cat"], "scores": [0.9]},
                              path=tmp_path / "drawn.png")
    assert tuple(canvas.shape) == (3, 64, 32)


def test_from_numpy_and_from_images(tmp_path):
    from PIL import Image

    data = np.random.default_rng(0).integers(0, 255, (2, 24, 32, 3), dtype=np.uint8)
    boxes = [[{"xmin": 2, "ymin": 3, "width": 10, "height": 8}], [{"xmin": 5, "ymin": 5, "width": 6, "height": 6}]]
    datamodule = ObjectDetectionData.from_numpy(data, [["cat"], ["dog"]], boxes, predict_data=data, batch_size=2)
    assert datamodule.labels == ["background", "cat", "dog"] and len(datamodule.predict_dataset) == 2
    grey = [Image.new("L", (32, 24), 128), Image.new("L", (32, 24), 30)]  # any mode becomes RGB
    datamodule = ObjectDetectionData.from_images(grey, [["cat"], ["dog"]], boxes, batch_size=2)
    assert datamodule.train_dataset[0]["input"].shape[0] == 3
    bad = data.astype(np.float32) / 255
    bad[1, 0, 0, 0] = np.nan
    with pytest.raises(DataError, match="index 1 of the train data"):
        ObjectDetectionData.from_numpy(bad, [["cat"], ["dog"]], boxes)


@pytest.mark.slow
def test_val_loss_is_logged_beside_map_and_monitorable(tmp_path):
    data = np.random.default_rng(0).integers(0, 255, (4, 32, 32, 3), dtype=np.uint8)
    boxes = [[{"xmin": 2 + i, "ymin": 3, "width": 12, "height": 10}] for i in range(4)]
    targets = [["cat"], ["dog"], ["cat"], ["dog"]]
    datamodule = ObjectDetectionData.from_files(list(data[:2]), targets[:2], boxes[:2], val_files=list(data[2:]),
                                                val_targets=targets[2:], val_bboxes=boxes[2:], batch_size=2,
                                                transform_kwargs={"image_size": 32})
    torch.manual_seed(0)
    model = tiny_model("fcos", "mobilenet_v3_small_fpn", labels=datamodule.labels, norm="bn")
    stats = [m.running_mean.clone() for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    losses = model.eval().evaluation_losses(next(iter(datamodule.val_dataloader())))
    assert set(losses) == {"classification", "bbox_regression", "bbox_ctrness"} and not model.training
    after = [m.running_mean for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert stats and all(torch.equal(a, b) for a, b in zip(stats, after))  # validation leaves BatchNorm alone
    checkpoint = flash.ModelCheckpoint(tmp_path / "ckpt", monitor="val_loss", mode="min")
    trainer = flash.Trainer(max_epochs=1, default_root_dir=str(tmp_path), logger=False, enable_progress_bar=False,
                            num_sanity_val_steps=0,
                            callbacks=[checkpoint, flash.EarlyStopping(monitor="val_loss", patience=1)])
    trainer.fit(model, datamodule=datamodule)
    metrics = trainer.callback_metrics
    assert {"val_loss", "val_classification", "val_bbox_regression", "val_map"} <= set(metrics)
    assert torch.isfinite(torch.as_tensor(metrics["val_loss"]))
    assert checkpoint.best_model_path and checkpoint.best_model_score is not None
