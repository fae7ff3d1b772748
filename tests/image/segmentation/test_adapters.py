"""The segmentation entry and its adapters: detect, serve, write, export + onnx runner, report, inspect."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from flash.image import SemanticSegmentationData
from flash.tasks import TASKS

from .conftest import read_png, tiny_model, write_pairs

ENTRY = TASKS["semantic_segmentation"]


def test_detect_images_and_masks_folders(tmp_path):
    write_pairs(tmp_path / "flat", count=2)
    found = ENTRY.recognise(tmp_path / "flat", val_split=0.3)
    assert found.constructor == "from_folders" and found.kwargs["val_split"] == 0.3
    assert found.kwargs["train_target_folder"].endswith("masks") and "masks paired by name" in found.description
    write_pairs(tmp_path / "split" / "train", count=2)
    write_pairs(tmp_path / "split" / "val", count=1)
    found = ENTRY.recognise(tmp_path / "split")
    assert found.kwargs["val_folder"].endswith("val/images") and "val_split" not in found.kwargs
    datamodule = SemanticSegmentationData.from_folders(**found.kwargs, num_workers=0)
    assert datamodule.num_classes == 3 and len(datamodule.val_dataset) == 1
    (tmp_path / "other" / "cats").mkdir(parents=True)
    assert ENTRY.recognise(tmp_path / "other") is None


def test_every_adapter_resolves():
    for name in ("serve", "write", "export", "onnx", "report", "inspect"):
        assert ENTRY.adapter(name) is not None


def test_serve_decodes_images_and_answers_masks_as_pngs(tmp_path):
    from flash.core.serving import InputError

    serve = ENTRY.adapter("serve")
    model = tiny_model()
    settings = serve.settings(model)
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20), (200, 0, 0)).save(buffer, format="PNG")
    image = serve.decode(buffer.getvalue(), name="street.png", settings=settings)
    assert image.size == (30, 20) and serve.input_kind == "image"
    with pytest.raises(InputError, match="'notes.txt' is not an image"):
        serve.decode(b"hello", name="notes.txt", settings=settings)
    prediction = model.predict(image)
    answer = serve.encode(prediction)
    mask = np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["mask"]))))
    assert mask.tolist() == prediction and answer["size"] == [20, 30]
    assert sum(answer["classes"].values()) == 20 * 30
    overlay = Image.open(io.BytesIO(base64.b64decode(answer["overlay"])))
    assert overlay.size == (30, 20) and overlay.mode == "RGBA"  # the page draws it over the upload
    alpha = np.asarray(overlay)[..., 3]
    assert ((alpha == 0) == (mask == 0)).all()  # class 0 left clear


def test_write_saves_the_class_index_png_and_an_overlay(tmp_path):
    model = tiny_model()
    images, _ = write_pairs(tmp_path, count=1, size=(45, 70))
    source = str(images / "0.png")
    written = ENTRY.adapter("write")(model.predict(source), source=source, folder=tmp_path / "out")
    assert [p.name for p in written] == ["0_mask.png", "0_overlay.png"]
    assert read_png(written[0]).tolist() == model.predict(source)
    assert read_png(written[1]).shape == (45, 70, 3)


def test_onnx_export_has_dynamic_height_and_width_and_the_runner_gives_the_same_masks(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    model = tiny_model(image_size=(40, 56)).eval()
    spec = ENTRY.adapter("export")(model)
    path = tmp_path / "model.onnx"
    torch.onnx.export(spec.module.eval(), spec.args, str(path), input_names=spec.input_names,
                      output_names=spec.output_names, dynamic_axes=spec.dynamic_axes, opset_version=17, dynamo=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in [(1, 3, 64, 64), (2, 3, 96, 160)]:
        x = torch.randn(*shape)
        with torch.no_grad():
            assert np.allclose(session.run(None, {"input": x.numpy()})[0], model(x).numpy(), atol=1e-4)
    runner = ENTRY.adapter("onnx")(session, spec.metadata)
    images, _ = write_pairs(tmp_path, count=2, size=(45, 70))
    files = [str(images / "0.png"), str(images / "1.png")]
    exported, eager = runner([runner.load(f) for f in files]), model.predict(files)
    agreement = np.mean([np.mean(np.asarray(a) == np.asarray(b)) for a, b in zip(exported, eager)])
    assert agreement > 0.999 and np.asarray(exported[0]).shape == (45, 70) and runner.default_output == "labels"


def test_report_sections_show_iou_confusion_matrix_and_overlays(tmp_path):
    from flash.reports import report as write_run_report

    images, masks = write_pairs(tmp_path / "data", count=4)
    datamodule = SemanticSegmentationData.from_folders(train_folder=images, train_target_folder=masks,
                                                       val_folder=images, val_target_folder=masks, num_classes=3,
                                                       batch_size=2, num_workers=0,
                                                       transform_kwargs=dict(image_size=32))
    model = tiny_model(labels=["bg", "a", "b"])
    page = write_run_report(tmp_path / "run", model, datamodule, folder=tmp_path / "report")
    html = page.read_text()
    assert "IoU per class" in html and "Confusion matrix" in html and "val_overlays.png" in html
    assert (tmp_path / "report" / "confusion_matrix.svg").is_file()
    assert (tmp_path / "report" / "val_overlays.png").is_file()
    rows = (tmp_path / "report" / "per_class_iou.csv").read_text().splitlines()
    assert rows[0] == "class,IoU,true pixels" and [row.split(",")[0] for row in rows[1:]] == ["bg", "a", "b"]
    assert sum(int(row.split(",")[2]) for row in rows[1:]) == 4 * 32 * 32


def test_report_merges_the_parts_of_every_process():
    report = ENTRY.adapter("report")
    parts = []
    for _ in range(2):
        part = report()
        part.add(None, {"masks": torch.tensor([[[0, 1]]]), "targets": torch.tensor([[[0, 0]]])}, {})
        parts.append(part)
    assert report.merged(parts).matrix.tolist() == [[2, 2], [0, 0]] and report.outputs == ("masks", "targets")


def test_inspect_finds_what_is_wrong_and_measures_pixels_per_class(tmp_path):
    from flash.reports.inspect import inspect_data, read_split

    images, masks = write_pairs(tmp_path, count=6)
    (masks / "0.png").unlink()  # image without mask
    Image.fromarray(np.zeros((40, 60), np.uint8)).save(masks / "orphan.png")  # mask without image
    Image.fromarray(np.zeros((30, 60), np.uint8)).save(masks / "1.png")  # size mismatch
    seven = np.zeros((40, 60), np.uint8)
    seven[0, 0] = 7
    Image.fromarray(seven).save(masks / "2.png")  # class outside num_classes
    (masks / "3.png").write_bytes(b"not a png")  # corrupt
    detected = ENTRY.recognise(tmp_path, val_split=0.0)
    kwargs = {**detected.kwargs, "num_classes": 5}
    items, findings = read_split("train", detected.constructor, kwargs, task=ENTRY)
    result = inspect_data(ENTRY, {"train": items}, findings=findings)
    errors = " | ".join(result.errors)
    assert "images/0.png' has no mask" in errors and "orphan.png' has no image" in errors
    assert "1.png' is 60x30 pixels but its image" in errors
    assert "2.png' holds class 7" in errors and "Cannot read mask '" in errors and "3.png'" in errors
    assert any(name.startswith("share of pixels: 0") for name in result.measures)
    assert result.counts["train"]["0"] == 3  # masks read as classes: 1.png (wrong size: found on measuring), 4, 5
