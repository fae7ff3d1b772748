"""Streamed image data (issue 31 item 3): Hugging Face and torch IterableDatasets, generators; labels declared up
front, shuffled through a buffer, sharded over processes and workers without duplicates."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import flash.core.data.streams as streams
from flash.errors import ConfigurationError, DataError
from flash.image import ImageClassificationData, ImageClassifier
from tests.image.classification.conftest import TINY, color_image

KW = {"batch_size": 4, "num_workers": 0, "transform_kwargs": {"image_size": 8}}
COLORS = ["blue", "red"]


class Pairs(torch.utils.data.IterableDataset):
    """(image, label) pairs with no length, as a user's streaming reader yields them."""

    def __init__(self, n: int) -> None:
        self.n = n

    def __iter__(self):
        for i in range(self.n):
            yield color_image(COLORS[i % 2], i), COLORS[i % 2]


def _hf_stream(n: int, shards: int = 2):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(names=COLORS)})
    features["id"] = datasets.Value("int64")
    table = datasets.Dataset.from_dict({"image": [Image.fromarray(color_image(COLORS[i % 2], i)) for i in range(n)],
                                        "label": [i % 2 for i in range(n)], "id": list(range(n))}, features=features)
    return table.to_iterable_dataset(num_shards=shards)


def _rows(loader) -> list[int]:
    """The samples' ids (a Hugging Face stream's "id" column) or positions in the stream."""
    return [meta.get("id", meta["row"]) for batch in loader for meta in batch["metadata"]]


def test_torch_iterable_dataset_trains_for_max_steps_with_labels_declared(trainer):
    dm = ImageClassificationData.from_datasets(train_dataset=Pairs(40), labels=COLORS, **KW)
    assert dm.labels == COLORS and dm.num_classes == 2 and "train=stream" in repr(dm)
    batch = next(iter(dm.train_dataloader()))
    assert batch["input"].shape == (4, 3, 8, 8) and set(batch["target"].tolist()) <= {0, 1}
    model = ImageClassifier(backbone=TINY, labels=dm.labels)
    fit = trainer(max_epochs=-1, max_steps=3)
    fit.fit(model, datamodule=dm)
    assert fit.global_step == 3


def test_hugging_face_stream_brings_its_class_names_and_limit_train_batches_ends_an_epoch(trainer):
    dm = ImageClassificationData.from_datasets(train_dataset=_hf_stream(24), **KW)
    assert dm.labels == COLORS  # the ClassLabel column declares them
    assert sorted(_rows(dm.train_dataloader())) == list(range(24))  # every item once, shuffled
    model = ImageClassifier(backbone=TINY, labels=dm.labels)
    fit = trainer(max_epochs=2, limit_train_batches=2)
    fit.fit(model, datamodule=dm)
    assert fit.global_step == 4


def test_labels_must_be_declared_and_val_split_refused():
    with pytest.raises(ConfigurationError, match=r"labels=\[...\].*num_classes=N"):
        ImageClassificationData.from_datasets(train_dataset=Pairs(4), **KW)
    with pytest.raises(ConfigurationError, match="val_split cannot split streamed data"):
        ImageClassificationData.from_datasets(train_dataset=Pairs(4), labels=COLORS, val_split=0.2, **KW)
    dm = ImageClassificationData.from_datasets(train_dataset=Pairs(4), num_classes=2, **KW)
    assert dm.num_classes == 2
    with pytest.raises(DataError, match=r"Unknown label '(red|blue)'.*only num_classes=2 was declared"):
        next(iter(dm.train_dataloader()))
    with pytest.raises(ConfigurationError, match=r"sampler= orders map-style training data.*shuffle_buffer="):
        ImageClassificationData.from_datasets(train_dataset=Pairs(4), labels=COLORS, sampler=[0, 1], **KW)


def test_shuffle_buffer_changes_the_order_per_epoch_and_keeps_every_sample():
    dm = ImageClassificationData.from_datasets(train_dataset=Pairs(30), labels=COLORS, shuffle_buffer=8, **KW)
    loader = dm.train_dataloader()
    first = _rows(loader)
    dm.train_dataset.set_epoch(1)
    second = _rows(loader)
    assert sorted(first) == sorted(second) == list(range(30)) and first != second and first != list(range(30))
    plain = ImageClassificationData.from_datasets(val_dataset=Pairs(30), labels=COLORS, **KW)
    assert _rows(plain.val_dataloader()) == list(range(30))  # evaluation keeps the stream's order


@pytest.mark.parametrize(("make", "kept"), [(lambda: Pairs(37), 36), (lambda: _hf_stream(37, shards=4), 37)],
                         ids=["torch", "hf"])
def test_processes_and_workers_share_a_stream_without_duplicates(monkeypatch, make, kept):
    """A torch stream is split in full rounds of 2 processes x 2 workers: its last 37 % 4 = 1 sample is dropped,
    so that every process runs as many batches; a Hugging Face one by its 4 shards (10, 9, 9, 9 rows), one per
    worker: nothing dropped, shares uneven (the engine ends such an epoch on every process together)."""
    seen = []
    for rank in range(2):
        monkeypatch.setattr(streams, "process_share", lambda rank=rank: (rank, 2))
        dm = ImageClassificationData.from_datasets(train_dataset=make(), labels=COLORS, **{**KW, "num_workers": 2})
        seen.append(_rows(dm.train_dataloader()))
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(kept))  # each sample once over 2 processes x 2 workers
    if kept == 36:  # full rounds: every process the same share (a Hugging Face shard split need not be even)
        assert len(seen[0]) == len(seen[1]) == 18


def test_a_generator_is_streamed_not_listified():
    pulled = []

    def generate():
        for i in range(12):
            pulled.append(i)
            yield np.asarray(color_image(COLORS[i % 2], i)), COLORS[i % 2]

    dm = ImageClassificationData.from_datasets(train_dataset=generate(), labels=COLORS, **KW)
    assert pulled == []  # nothing read to build the DataModule
    assert sorted(_rows(dm.train_dataloader())) == list(range(12))
    with pytest.raises(DataError, match="generator streams once"):
        next(iter(dm.train_dataloader()))


def test_a_torch_dataset_without_targets_is_not_read_whole_when_its_classes_are_declared():
    reads = []

    class Lazy(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            reads.append(i)
            return color_image(COLORS[i % 2], i), COLORS[i % 2]

    dm = ImageClassificationData.from_datasets(train_dataset=Lazy(), labels=COLORS, val_split=0.2, **KW)
    assert reads == [] and len(dm.train_dataset) == 8 and len(dm.val_dataset) == 2
    targets = [t for batch in dm.train_dataloader() for t in batch["target"].tolist()]
    assert len(targets) == 8 and set(targets) == {0, 1} and len(reads) == 8
    read_whole = ImageClassificationData.from_datasets(train_dataset=Lazy(), **KW)  # classes unknown: listed
    assert read_whole.labels == COLORS and len(reads) == 8 + 10


def test_a_resumed_run_replays_the_stream_to_where_it_stopped(tmp_path):
    """Stopped mid-epoch (step 5 of 4-batch epochs), resumed from its checkpoint: the same batches follow, in the
    same shuffled order (the shuffle is seeded by the epoch), and the weights end equal to an unbroken run's."""
    import flash

    def fit(root, ckpt_path=None, extra=()):
        flash.seed_everything(3)
        dm = ImageClassificationData.from_datasets(train_dataset=Pairs(16), labels=COLORS, shuffle_buffer=6, **KW)
        model = ImageClassifier(backbone=TINY, labels=COLORS, learning_rate=0.05)
        trainer = flash.Trainer(max_epochs=-1, max_steps=7, accelerator="cpu", default_root_dir=str(root),
                                enable_progress_bar=False, logger=False, callbacks=list(extra))
        trainer.fit(model, datamodule=dm, ckpt_path=ckpt_path)
        return model

    steps = flash.ModelCheckpoint(str(tmp_path / "steps"), every_n_train_steps=1, save_top_k=-1)
    full = fit(tmp_path / "a", extra=[steps])
    resumed = fit(tmp_path / "b", ckpt_path=str(tmp_path / "steps" / "epoch=1-step=5.ckpt"))
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name
