"""Streamed segmentation data (issue 31 item 3): torch and Hugging Face IterableDatasets, generators and
webdataset-style .tar shards (``<key>.jpg`` + ``<key>.png``); classes declared up front, each sample once per
epoch across DataLoader workers, decoding in the workers, bad items named."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from flash.errors import ConfigurationError, DataError
from flash.image import SemanticSegmentationData
from tests.offline import offline_hf  # noqa: F401 - a fixture

from .conftest import blocky_mask, image_for, quiet_trainer, tiny_model

SIZE = (24, 32)  # (height, width)
KW = {"num_classes": 3, "batch_size": 4, "transform_kwargs": {"image_size": 32}}


def _pair(i: int, size: tuple[int, int] = SIZE) -> tuple[np.ndarray, np.ndarray]:
    mask = blocky_mask(np.random.default_rng(i), size)
    return image_for(mask), mask


class Rows(torch.utils.data.IterableDataset):
    """Dicts of columns with no length, as a user's streaming reader yields them."""

    def __init__(self, n: int, **columns) -> None:
        self.n, self.columns = n, columns

    def __iter__(self):
        for i in range(self.n):
            image, mask = _pair(i)
            yield {"image": image, "mask": mask, "id": i, **{k: v(i) for k, v in self.columns.items()}}


def _ids(loader, key: str = "id") -> list:
    return [meta[key] for batch in loader for meta in batch["metadata"]]


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _encoded(array: np.ndarray, format: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format=format)
    return buffer.getvalue()


def write_seg_shards(folder: Path, *, shards: int = 3, per_shard: int = 4, prefix: str = "train",
                     masks: bool = True, broken: str | None = None) -> dict[str, np.ndarray]:
    """``folder/<prefix>-000.tar`` ...: each sample ``<key>.jpg`` (the image) + ``<key>.png`` (its class-index
    mask, mode L); ``broken``: a key whose JPEG is cut short. Returns the masks by key."""
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for shard in range(shards):
        with tarfile.open(folder / f"{prefix}-{shard:03d}.tar", "w") as tar:
            for i in range(per_shard):
                key = f"{shard:03d}{i:03d}"
                image, mask = _pair(shard * 100 + i)
                jpeg = _encoded(image, "JPEG")
                _member(tar, f"{key}.jpg", jpeg[:60] if key == broken else jpeg)
                if masks:
                    _member(tar, f"{key}.png", _encoded(mask, "PNG"))
                written[key] = mask
    return written


def test_a_torch_stream_trains_with_two_workers_and_every_sample_once_per_epoch(tmp_path):
    dm = SemanticSegmentationData.from_datasets(train_dataset=Rows(12), input_field="image", target_field="mask",
                                                shuffle_buffer=5, num_workers=2, **KW)
    assert dm.num_classes == 3 and "train=stream" in repr(dm)
    loader = dm.train_dataloader()
    orders = []
    for epoch in range(2):
        dm.train_dataset.set_epoch(epoch)
        orders.append(_ids(loader))
        assert sorted(orders[-1]) == list(range(12))  # every sample once, over two workers
    assert orders[0] != orders[1]  # shuffled per epoch
    batch = next(iter(loader))
    assert batch["input"].shape == (4, 3, 32, 32) and batch["target"].shape == (4, 32, 32)
    assert set(batch["target"].unique().tolist()) <= {0, 1, 2} and batch["metadata"][0]["size"] == SIZE
    trainer = quiet_trainer(tmp_path, max_epochs=-1, max_steps=3)
    trainer.fit(tiny_model(3), datamodule=dm)
    assert trainer.global_step == 3


@pytest.mark.usefixtures("offline_hf")
def test_processes_and_workers_share_a_stream_without_duplicates(monkeypatch, tmp_path):
    """2 processes x 2 workers: a torch stream of 18 splits in full rounds of 4 (the last 18 % 4 = 2 dropped, every
    process the same share); .tar shards split by file (4 shards, one per worker), nothing dropped."""
    import flash.core.data.streams as streams

    masks = write_seg_shards(tmp_path / "shards", shards=4, per_shard=2)
    torch_stream = lambda: SemanticSegmentationData.from_datasets(  # noqa: E731
        Rows(18), input_field="image", target_field="mask", num_workers=2, **KW)
    tar_shards = lambda: SemanticSegmentationData.from_shards(  # noqa: E731
        str(tmp_path / "shards" / "*.tar"), input_field="jpg", target_field="png", num_workers=2, **KW)
    for build, key, kept in ((torch_stream, "id", list(range(16))), (tar_shards, "__key__", sorted(masks))):
        seen = []
        for rank in range(2):
            monkeypatch.setattr(streams, "process_share", lambda rank=rank: (rank, 2))
            seen.append(_ids(build().train_dataloader(), key))
        assert not set(seen[0]) & set(seen[1]) and sorted(seen[0] + seen[1]) == kept
        assert len(seen[0]) == len(seen[1])


@pytest.mark.usefixtures("offline_hf")
def test_a_generator_of_pairs_and_a_hugging_face_stream_give_the_masks_as_written():
    """No resize (image_size = the images' size) and no flip (val): the batch's masks are the masks written, so the
    image/mask pairing and the decoding (PIL masks of mode L from an ``Image`` column) are exact."""
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    pairs = [_pair(i) for i in range(6)]
    kw = {**KW, "num_workers": 0, "transform_kwargs": {"image_size": SIZE}, "batch_size": 6}
    generated = SemanticSegmentationData.from_datasets(val_dataset=(p for p in pairs), **kw)
    batch = next(iter(generated.val_dataloader()))
    assert torch.equal(batch["target"], torch.as_tensor(np.stack([m for _, m in pairs]), dtype=torch.int64))

    features = datasets.Features({"image": datasets.Image(), "annotation": datasets.Image(),
                                  "id": datasets.Value("int64")})
    table = datasets.Dataset.from_dict({"image": [Image.fromarray(i) for i, _ in pairs],
                                        "annotation": [Image.fromarray(m) for _, m in pairs],
                                        "id": list(range(6))}, features=features)
    dm = SemanticSegmentationData.from_datasets(val_dataset=table.to_iterable_dataset(num_shards=2),
                                                input_field="image", target_field="annotation", **kw)
    batch = next(iter(dm.val_dataloader()))
    expected = np.stack([pairs[i][1] for i in _ids([batch])])
    assert torch.equal(batch["target"], torch.as_tensor(expected, dtype=torch.int64))


@pytest.mark.usefixtures("offline_hf")
def test_tar_shards_train_with_two_workers_and_predict(tmp_path):
    masks = write_seg_shards(tmp_path / "shards", shards=3, per_shard=4)
    write_seg_shards(tmp_path / "new", shards=2, per_shard=3, prefix="new", masks=False)
    dm = SemanticSegmentationData.from_shards(
        train_files=str(tmp_path / "shards" / "train-*.tar"), predict_files=str(tmp_path / "new" / "*.tar"),
        input_field="jpg", target_field="png", num_workers=2, shuffle_buffer=8, **KW)
    assert dm.train_dataset.source.n_shards == 3 and dm.predict_dataset.source.n_shards == 2
    loader = dm.train_dataloader()
    for epoch in range(2):  # each sample once per epoch, split by shard over the two workers
        dm.train_dataset.set_epoch(epoch)
        assert sorted(_ids(loader, "__key__")) == sorted(masks)
    trainer = quiet_trainer(tmp_path, max_epochs=-1, max_steps=2)
    model = tiny_model(3)
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 2
    predictions = [mask for batch in trainer.predict(model, datamodule=dm, output="labels") for mask in batch]
    assert len(predictions) == 6
    assert all((len(mask), len(mask[0])) == SIZE for mask in predictions)  # at each image's own size


@pytest.mark.usefixtures("offline_hf")
def test_a_missing_column_names_the_columns_there_are(tmp_path):
    write_seg_shards(tmp_path / "shards", shards=1, per_shard=2)
    with pytest.raises(DataError, match=r"train_files=.*no column 'mask'; their columns are "
                                        r"\['__key__', '__url__', 'jpg', 'png'\]"):
        SemanticSegmentationData.from_shards(train_files=str(tmp_path / "shards" / "*.tar"), input_field="jpg",
                                             target_field="mask", **KW)
    dm = SemanticSegmentationData.from_datasets(train_dataset=Rows(4), input_field="image", target_field="label",
                                                num_workers=0, **KW)
    with pytest.raises(DataError, match=r"Item 0 of the train stream has no 'label' field; its fields are "
                                        r"\['id', 'image', 'mask'\]"):
        next(iter(dm.train_dataloader()))


def test_classes_must_be_declared_and_val_split_is_refused():
    with pytest.raises(ConfigurationError, match=r"Streamed masks .* declare it, with num_classes=N, labels="):
        SemanticSegmentationData.from_datasets(train_dataset=Rows(4), input_field="image", target_field="mask")
    labelled = SemanticSegmentationData.from_datasets(train_dataset=Rows(4), input_field="image",
                                                      target_field="mask", labels=["sky", "road", "car"])
    assert labelled.num_classes == 3 and labelled.labels == ["sky", "road", "car"]
    with pytest.raises(ConfigurationError, match="val_split cannot split streamed data"):
        SemanticSegmentationData.from_datasets(train_dataset=Rows(4), input_field="image", target_field="mask",
                                               val_split=0.5, **KW)
    images = SemanticSegmentationData.from_datasets(predict_dataset=Rows(4), input_field="image", num_workers=0)
    assert images.num_classes is None  # images to predict need no classes
    assert next(iter(images.predict_dataloader()))["input"].shape[0] == 4


@pytest.mark.parametrize("column, value, error", [
    ("mask", lambda i: np.zeros((5, 5), np.uint8), r"the mask of train stream item 2 is 5x5 pixels but its image"),
    ("mask", lambda i: np.full(SIZE, 7, np.uint8), r"the mask of train stream item 2 holds class 7 .*num_classes=3"),
    ("image", lambda i: {"bytes": b"not a jpeg", "path": None}, r"Cannot decode the image of train stream item 2"),
    ("mask", lambda i: None, r"Item 2 of the train stream has no mask \('mask' is None\)"),
], ids=["size", "class", "bytes", "none"])
def test_a_bad_item_is_named_by_its_index(column, value, error):
    class Bad(Rows):
        def __iter__(self):
            for i, row in enumerate(super().__iter__()):
                yield {**row, column: value(i)} if i == 2 else row

    dm = SemanticSegmentationData.from_datasets(train_dataset=Bad(4), input_field="image", target_field="mask",
                                                shuffle_buffer=0, num_workers=0, **KW)
    with pytest.raises(DataError, match=error):
        list(dm.train_dataloader())


@pytest.mark.usefixtures("offline_hf")
def test_a_broken_image_in_a_shard_is_named_by_its_key(tmp_path):
    write_seg_shards(tmp_path / "shards", shards=1, per_shard=3, broken="000002")
    dm = SemanticSegmentationData.from_shards(train_files=str(tmp_path / "shards" / "*.tar"), input_field="jpg",
                                              target_field="png", num_workers=0, shuffle_buffer=0, **KW)
    with pytest.raises(DataError, match=r"Cannot decode the image of train stream item 2 \(key '000002'\)"):
        list(dm.train_dataloader())


def test_an_item_that_is_no_pair_is_named():
    dm = SemanticSegmentationData.from_datasets(train_dataset=iter([np.zeros(SIZE)]), num_workers=0, **KW)
    with pytest.raises(DataError, match=r"must yield \(image, mask\) pairs or dicts of columns; item 0 is a ndarray"):
        list(dm.train_dataloader())


@pytest.mark.parametrize("workers", [0, 2])  # 2: resumed after an odd number of batches, in order
def test_a_resumed_run_replays_the_stream_and_its_random_flips(tmp_path, workers):
    """Stopped mid-epoch (step 5 of 4-batch epochs) and resumed from its checkpoint: the same samples follow in the
    same shuffled order, each flipped as in the unbroken run (in workers the flips are seeded per sample), so the
    weights end equal to the unbroken run's."""
    import flash

    def fit(root, ckpt_path=None, extra=()):
        flash.seed_everything(3)
        dm = SemanticSegmentationData.from_datasets(train_dataset=Rows(16), input_field="image", target_field="mask",
                                                    shuffle_buffer=6, num_workers=workers, **KW)
        model = tiny_model(3, learning_rate=0.05)
        trainer = quiet_trainer(root, max_epochs=-1, max_steps=7, callbacks=list(extra))
        trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
        return model

    steps = flash.ModelCheckpoint(str(tmp_path / "steps"), every_n_train_steps=1, save_top_k=-1)
    full = fit(tmp_path / "a", extra=[steps])
    resumed = fit(tmp_path / "b", ckpt_path=str(tmp_path / "steps" / "epoch=1-step=5.ckpt"))
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


@pytest.mark.usefixtures("offline_hf")
def test_parquet_shards_of_encoded_images_give_the_masks_as_written(tmp_path):
    """A .parquet shard's image and mask columns as ``{"bytes", "path"}`` structs (as ``datasets`` writes ``Image``
    columns), decoded in the workers."""
    pa, pq = pytest.importorskip("pyarrow"), pytest.importorskip("pyarrow.parquet")
    pairs = [_pair(i) for i in range(5)]
    pq.write_table(pa.table({"image": [{"bytes": _encoded(image, "PNG"), "path": f"{i}.png"}
                                       for i, (image, _) in enumerate(pairs)],
                             "mask": [{"bytes": _encoded(mask, "PNG"), "path": None} for _, mask in pairs],
                             "id": list(range(5))}), tmp_path / "val-000.parquet")
    dm = SemanticSegmentationData.from_shards(val_files=str(tmp_path / "val-*.parquet"), input_field="image",
                                              target_field="mask", num_workers=0,
                                              **{**KW, "batch_size": 5, "transform_kwargs": {"image_size": SIZE}})
    batch = next(iter(dm.val_dataloader()))
    assert _ids([batch]) == list(range(5))
    assert torch.equal(batch["target"], torch.as_tensor(np.stack([m for _, m in pairs]), dtype=torch.int64))
