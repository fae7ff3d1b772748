"""Streamed detection data (issue 31 item 3): torch and Hugging Face IterableDatasets, generators and .tar shards;
labels declared up front, split over DataLoader workers without duplicates, images decoded in the workers."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
import torch

from flash.errors import ConfigurationError, DataError
from flash.image import ObjectDetectionData
from tests.image.detection.conftest import quiet_trainer, tiny_model
from tests.offline import offline_hf  # noqa: F401 - a fixture

SHAPES = ["red_square", "green_circle", "blue_triangle"]
KW = {"batch_size": 2, "num_workers": 0, "transform_kwargs": {"image_size": 64}}


def _image(i: int, size=(48, 64)) -> np.ndarray:
    image = np.full((*size, 3), 30, dtype=np.uint8)
    image[8:24, 10 + i % 20:30 + i % 20] = (200, 40, 40)
    return image


def _target(i: int) -> dict:
    return {"boxes": [[10 + i % 20, 8, 30 + i % 20, 24]], "labels": [SHAPES[i % 3]]}


class Pairs(torch.utils.data.IterableDataset):
    """(image, target) pairs with no length, as a user's streaming reader yields them."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield _image(i), _target(i)


def _rows(loader) -> list:
    return [meta.get("id", meta["row"]) for batch in loader for meta in batch["metadata"]]


def test_a_torch_stream_trains_with_two_workers_and_every_sample_once_per_epoch(tmp_path):
    dm = ObjectDetectionData.from_datasets(train_dataset=Pairs(10), labels=SHAPES, shuffle_buffer=4,
                                           **{**KW, "num_workers": 2})
    assert dm.labels == ["background", *SHAPES] and dm.num_classes == 4 and "train=stream" in repr(dm)
    loader = dm.train_dataloader()
    orders = []
    for epoch in range(2):
        dm.train_dataset.set_epoch(epoch)
        rows = _rows(loader)
        assert sorted(rows) == list(range(10))  # every sample once, none twice across the two workers
        orders.append(rows)
    assert orders[0] != orders[1]  # the shuffle buffer draws anew each epoch
    batch = next(iter(loader))
    assert batch["input"][0].shape == (3, 48, 64) and batch["target"][0]["boxes"].shape == (1, 4)
    assert all(int(t["labels"][0]) in (1, 2, 3) for t in batch["target"])
    fit = quiet_trainer(tmp_path, max_epochs=-1, max_steps=2)
    fit.fit(tiny_model(), datamodule=dm)
    assert fit.global_step == 2


def test_a_resumed_stream_goes_on_with_the_batches_an_unbroken_run_saw_next():
    def batches(skip: int) -> list[list[int]]:
        dm = ObjectDetectionData.from_datasets(train_dataset=Pairs(10), labels=SHAPES, shuffle_buffer=4, **KW)
        dm.train_dataset.set_epoch(1)
        assert dm.train_dataset.skip_batches(skip, KW["batch_size"]) == 0  # dropped before they load
        return [[meta["row"] for meta in batch["metadata"]] for batch in dm.train_dataloader()]

    unbroken = batches(0)
    assert len(unbroken) == 5 and batches(2) == unbroken[2:]


def _hf_stream(n: int, shards: int = 2):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    features = datasets.Features({
        "image": datasets.Image(), "id": datasets.Value("int64"),
        "objects": {"bbox": datasets.List(datasets.List(datasets.Value("float32"))),
                    "category": datasets.List(datasets.ClassLabel(names=SHAPES))}})
    rows = {"image": [Image.fromarray(_image(i)) for i in range(n)], "id": list(range(n)),
            "objects": [{"bbox": [[10.0, 8.0, 20.0, 16.0]], "category": [i % 3]} for i in range(n)]}
    return datasets.Dataset.from_dict(rows, features=features).to_iterable_dataset(num_shards=shards)


def test_a_hugging_face_stream_declares_its_classes_and_reads_xywh_boxes():
    dm = ObjectDetectionData.from_datasets(val_dataset=_hf_stream(6), box_format="xywh", **KW)  # val: no flip
    assert dm.labels == ["background", *SHAPES]  # the ClassLabel under objects.category names them
    samples = list(dm.val_dataset)
    assert sorted(s["metadata"]["id"] for s in samples) == list(range(6))
    by_id = {s["metadata"]["id"]: s for s in samples}
    assert by_id[4]["target"]["labels"].tolist() == [2]  # category 1 -> "green_circle", index 2 of the map
    assert by_id[4]["target"]["boxes"].tolist() == [[10.0, 8.0, 30.0, 24.0]]  # [x, y, w, h] -> XYXY


def test_a_generator_with_num_classes_and_mixed_map_style_val_data():
    def stream():
        for i in range(4):
            yield {"image": _image(i), "objects": {"boxes": [[1, 2, 10, 12]], "labels": [i % 2]}, "name": f"n{i}"}

    val = [(_image(0), {"boxes": [[1, 2, 10, 12]], "labels": [1]})]
    dm = ObjectDetectionData.from_datasets(train_dataset=stream(), val_dataset=val, num_classes=3, shuffle_buffer=0,
                                           **KW)
    assert dm.labels == ["background", 0, 1] and dm.num_classes == 3
    assert dm.val_dataset.samples[0]["target"]["labels"] == [2]  # the same label map for map-style data
    samples = list(dm.train_dataset)
    assert [s["target"]["labels"].tolist() for s in samples] == [[1], [2], [1], [2]]
    assert [s["metadata"]["name"] for s in samples] == ["n0", "n1", "n2", "n3"]


def test_classes_must_be_declared_and_an_undeclared_label_names_the_item():
    with pytest.raises(ConfigurationError, match=r"declare them, with labels=\[...\].*num_classes=N"):
        ObjectDetectionData.from_datasets(train_dataset=Pairs(2), **KW)
    with pytest.raises(ConfigurationError, match="num_classes=5 disagrees with the 4 classes"):
        ObjectDetectionData.from_datasets(train_dataset=Pairs(2), labels=SHAPES, num_classes=5, **KW)
    dm = ObjectDetectionData.from_datasets(train_dataset=Pairs(3), labels=SHAPES[:2], **KW)
    with pytest.raises(DataError, match=r"Label 'blue_triangle' in the train stream \(item 2\) is not in the label "
                                        r"map \['red_square', 'green_circle'\]"):
        list(dm.train_dataset)


def test_a_missing_field_names_the_fields_there_are():
    stream = ({"img": _image(i), "objects": _target(i)} for i in range(2))
    dm = ObjectDetectionData.from_datasets(train_dataset=stream, labels=SHAPES, **KW)
    with pytest.raises(DataError, match=r"item 0 of the train stream has no 'image' field; its fields are "
                                        r"\['img', 'objects'\]"):
        next(iter(dm.train_dataset))
    bad_target = [(_image(0), {"box": [[1, 2, 3, 4]], "labels": ["red_square"]})]
    dm = ObjectDetectionData.from_datasets(train_dataset=iter(bad_target), labels=SHAPES, **KW)
    with pytest.raises(DataError, match=r"the target has no boxes; its keys are \['box', 'labels'\]"):
        next(iter(dm.train_dataset))


def test_a_bad_image_raises_naming_the_item_or_is_skipped_and_bad_boxes_are_fixed():
    items = [({"bytes": b"not an image", "path": "3.jpg"}, _target(0)),
             (_image(1), {"boxes": [[-5, 8, 30, 24], [70, 60, 90, 80]], "labels": SHAPES[:2]})]
    dm = ObjectDetectionData.from_datasets(train_dataset=iter(items), labels=SHAPES, shuffle_buffer=0, **KW)
    with pytest.raises(DataError, match=r"Cannot read the image of item 0 of the train stream: '3.jpg' is not an "
                                        r"image.*on_bad_file='skip'"):
        next(iter(dm.train_dataset))
    dm = ObjectDetectionData.from_datasets(val_dataset=iter(items), labels=SHAPES, on_bad_file="skip", **KW)
    with pytest.warns(UserWarning) as caught:  # val data: no random flip
        samples = list(dm.val_dataset)
    messages = [str(w.message) for w in caught]
    assert any("Skipped a bad file in the val data: item 0 of the val stream" in m for m in messages)
    assert any("Fixed a box in the val stream" in m for m in messages)
    assert len(samples) == 1 and samples[0]["target"]["boxes"].tolist() == [[0.0, 8.0, 30.0, 24.0]]
    with pytest.raises(ConfigurationError, match="on_bad_file must be 'raise' or 'skip'"):
        ObjectDetectionData.from_datasets(train_dataset=Pairs(1), labels=SHAPES, on_bad_file="ignore", **KW)


# ------------------------------------------------------------------ .tar shards
def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_detection_shards(folder, *, shards: int = 2, per_shard: int = 3, prefix: str = "train",
                           targets: bool = True) -> None:
    """``<prefix>-000.tar`` ...: each sample ``<key>.jpg`` + ``<key>.json`` ({"boxes": XYXY, "labels": [names]})."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    for shard in range(shards):
        with tarfile.open(folder / f"{prefix}-{shard:03d}.tar", "w") as tar:
            for i in range(per_shard):
                key, jpeg = f"{shard:03d}{i:03d}", io.BytesIO()
                Image.fromarray(_image(i)).save(jpeg, format="JPEG")
                _member(tar, f"{key}.jpg", jpeg.getvalue())
                if targets:
                    _member(tar, f"{key}.json", json.dumps(_target(shard * per_shard + i)).encode())


SHARD_KW = {**KW, "input_field": "jpg", "target_field": "json", "labels": SHAPES}


@pytest.mark.usefixtures("offline_hf")
def test_tar_shards_train_with_two_workers_and_predict(tmp_path):
    write_detection_shards(tmp_path / "shards")
    write_detection_shards(tmp_path / "shards", shards=1, prefix="new", targets=False)
    dm = ObjectDetectionData.from_shards(train_files=str(tmp_path / "shards" / "train-*.tar"),
                                         predict_files=str(tmp_path / "shards" / "new-*.tar"),
                                         **{**SHARD_KW, "num_workers": 2})
    assert dm.train_dataset.source.n_shards == 2 and dm.labels == ["background", *SHAPES]
    keys = [meta["__key__"] for batch in dm.train_dataloader() for meta in batch["metadata"]]
    assert sorted(keys) == sorted(f"{s:03d}{i:03d}" for s in range(2) for i in range(3))
    fit = quiet_trainer(tmp_path, max_epochs=-1, max_steps=2)
    model = tiny_model()
    fit.fit(model, datamodule=dm)
    assert fit.global_step == 2
    predictions = fit.predict(model, datamodule=dm)
    assert sum(len(batch) for batch in predictions) == 3


@pytest.mark.usefixtures("offline_hf")
def test_tar_shards_without_the_field_name_their_columns(tmp_path):
    write_detection_shards(tmp_path / "shards", shards=1)
    with pytest.raises(DataError, match=r"no column 'image'; their columns are \['__key__', '__url__', 'jpg', "
                                        r"'json'\]"):
        ObjectDetectionData.from_shards(train_files=str(tmp_path / "shards" / "*.tar"), labels=SHAPES)


@pytest.mark.usefixtures("offline_hf")
def test_parquet_shards_of_image_bytes_and_box_structs(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    from PIL import Image

    (tmp_path / "shards").mkdir()
    for shard in range(2):
        images = []
        for i in range(2):
            png = io.BytesIO()
            Image.fromarray(_image(i)).save(png, format="PNG")
            images.append({"bytes": png.getvalue(), "path": f"{shard}-{i}.png"})
        pq.write_table(pa.table({"image": images, "objects": [_target(shard * 2 + i) for i in range(2)],
                                 "id": [shard * 2, shard * 2 + 1]}), tmp_path / "shards" / f"train-{shard}.parquet")
    dm = ObjectDetectionData.from_shards(train_files=str(tmp_path / "shards" / "*.parquet"), labels=SHAPES, **KW)
    samples = list(dm.train_dataset)
    assert sorted(s["metadata"]["id"] for s in samples) == [0, 1, 2, 3]
    assert all(s["input"].shape == (3, 48, 64) and len(s["target"]["labels"]) == 1 for s in samples)


def test_map_style_hugging_face_data_reads_the_same_columns_and_class_names():
    stream = _hf_stream(3)
    datasets = pytest.importorskip("datasets")
    table = datasets.Dataset.from_list(list(stream), features=stream.features)
    dm = ObjectDetectionData.from_datasets(train_dataset=table, box_format="xywh", **KW)
    assert dm.labels == ["background", *SHAPES]
    assert [s["target"]["labels"] for s in dm.train_dataset.samples] == [[1], [2], [3]]
    assert dm.train_dataset.samples[0]["target"]["boxes"] == [[10.0, 8.0, 30.0, 24.0]]


def test_on_bad_file_is_refused_for_map_style_data():
    with pytest.raises(ConfigurationError, match="on_bad_file applies to streamed data"):
        ObjectDetectionData.from_datasets([(_image(0), _target(0))], on_bad_file="skip", **KW)
