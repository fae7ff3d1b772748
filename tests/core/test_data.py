import pytest
import torch

from flash.core.data import DataModule, InputTransform
from flash.errors import ConfigurationError, DataError

from .helpers import PointsInput, points


def test_labels_inferred_and_shared_with_val():
    xs, ys = points(40)
    dm = DataModule(PointsInput("train", xs, ys), PointsInput("val", xs[:5], ys[:5]), batch_size=8)
    assert dm.labels == ["neg", "pos"] and dm.num_classes == 2 and not dm.multi_label
    batch = next(iter(dm.val_dataloader()))
    assert batch["input"].shape == (5, 2) and batch["target"].dtype == torch.int64
    assert batch["metadata"][0] == {"row": 0}


def test_unseen_val_label_is_named():
    xs, ys = points(10)
    with pytest.raises(DataError, match=r"Unknown label 'zero'.*val data.*row 0"):
        DataModule(PointsInput("train", xs, ys), PointsInput("val", xs[:1], ["zero"]))


def test_val_split_is_seeded_and_disjoint():
    xs, ys = points(50)
    a = DataModule(PointsInput("train", xs, ys), val_split=0.2, seed=3)
    b = DataModule(PointsInput("train", xs, ys), val_split=0.2, seed=3)
    assert len(a.val_dataset) == 10 and len(a.train_dataset) == 40
    assert a.val_dataset.indices == b.val_dataset.indices
    assert not set(a.val_dataset.indices) & set(a.train_dataset.indices)


def test_transform_applies_per_stage():
    class Double(InputTransform):
        def per_sample_transform(self, stage):
            factor = self.kwargs.get("factor", 2)
            return (lambda s: {**s, "input": s["input"] * factor}) if stage == "train" else None

    xs, ys = points(4)
    dm = DataModule(PointsInput("train", xs, ys), PointsInput("val", xs, ys), transform=Double,
                    transform_kwargs={"factor": 3}, batch_size=4)
    train = next(iter(dm.val_dataloader()))["input"]
    assert torch.allclose(dm.train_dataset[0]["input"], train[0] * 3)


def test_bad_arguments():
    xs, ys = points(4)
    with pytest.raises(ConfigurationError, match="batch_size"):
        DataModule(PointsInput("train", xs, ys), batch_size=0)
    with pytest.raises(ConfigurationError, match="No data"):
        DataModule()
    with pytest.raises(ConfigurationError, match="val_split"):
        DataModule(PointsInput("train", xs, ys), val_split=1.5)
    with pytest.raises(DataError, match="empty"):
        DataModule(PointsInput("train", [], []))


def test_show_batch_rejects_non_images_clearly():
    xs, ys = points(8)
    dm = DataModule(PointsInput("train", xs, ys), batch_size=4)
    with pytest.raises(DataError, match="show_batch draws images"):
        dm.show_batch()


@pytest.mark.parametrize("cuda, method, cores, expected", [
    (False, "fork", 16, 0),  # CPU training: the model's threads use the cores (measured: workers gave nothing)
    (True, "fork", 16, 4),
    (True, "fork", 2, 1),  # one core left for the main process
    (True, "fork", 1, 0),
    (True, "spawn", 16, 0),  # macOS / Windows: workers would re-import the user's script
])
def test_default_num_workers(monkeypatch, cuda, method, cores, expected):
    import multiprocessing
    import os

    from flash.engine.data import default_num_workers

    monkeypatch.setattr(multiprocessing, "get_start_method", lambda allow_none=False: method)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert default_num_workers(cuda=cuda) == expected


def test_workers_persist_across_epochs_unless_asked_not_to():
    def train(**kwargs):
        return DataModule(PointsInput("train", *points(8)), **kwargs).train_dataloader()

    assert train(num_workers=2).persistent_workers
    assert not train(num_workers=2, persistent_workers=False).persistent_workers
    assert not train(num_workers=0).persistent_workers
    with pytest.raises(ConfigurationError, match=r"num_workers must be an int >= 0.*num_workers=-1"):
        train(num_workers=-1)
