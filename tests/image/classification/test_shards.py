"""ImageClassificationData.from_shards (issue 31 item 3): webdataset-style .tar shards of JPEGs, streamed, split by
file across DataLoader workers without duplicates."""

from __future__ import annotations

import pytest

from flash.errors import DataError
from flash.image import ImageClassificationData, ImageClassifier
from tests.core.shard_helpers import COLORS, write_tar_shards
from tests.image.classification.conftest import TINY
from tests.offline import offline_hf  # noqa: F401 - a fixture

pytestmark = pytest.mark.usefixtures("offline_hf")

pytest.importorskip("datasets")
KW = {"input_field": "jpg", "target_field": "cls", "labels": COLORS, "batch_size": 4,
      "transform_kwargs": {"image_size": 8}}


def _keys(loader) -> list[str]:
    return [meta["__key__"] for batch in loader for meta in batch["metadata"]]


def test_tar_shards_train_with_two_workers_and_every_sample_once_per_epoch(tmp_path, trainer):
    write_tar_shards(tmp_path / "shards", shards=3, per_shard=4)
    dm = ImageClassificationData.from_shards(train_files=str(tmp_path / "shards" / "train-*.tar"), num_workers=2,
                                             shuffle_buffer=8, **KW)
    assert dm.labels == COLORS and "train=stream" in repr(dm) and dm.train_dataset.source.n_shards == 3
    every = sorted(f"{shard:03d}{i:03d}" for shard in range(3) for i in range(4))
    loader = dm.train_dataloader()
    for epoch in range(2):  # each sample once per epoch, none missing
        dm.train_dataset.set_epoch(epoch)
        batches = list(loader)
        assert sorted(_keys(batches)) == every
    assert batches[0]["input"].shape == (4, 3, 8, 8) and set(batches[0]["target"].tolist()) <= {0, 1}
    fit = trainer(max_epochs=-1, max_steps=4)
    fit.fit(ImageClassifier(backbone=TINY, labels=dm.labels), datamodule=dm)
    assert fit.global_step == 4


def test_unlabelled_tar_shards_predict(tmp_path, trainer):
    write_tar_shards(tmp_path / "shards", shards=2, per_shard=3, prefix="new", labels=False)
    dm = ImageClassificationData.from_shards(predict_files=[str(p) for p in sorted((tmp_path / "shards").iterdir())],
                                             num_workers=0, **KW)  # target_field="cls": not needed to predict
    model = ImageClassifier(backbone=TINY, labels=COLORS)
    predictions = trainer().predict(model, datamodule=dm)
    assert sum(len(batch) for batch in predictions) == 6


def test_a_wrong_input_field_names_the_shards_columns(tmp_path):
    write_tar_shards(tmp_path / "shards", shards=1, per_shard=2)
    with pytest.raises(DataError, match=r"train_files=.*no column 'png'; their columns are "
                                        r"\['__key__', '__url__', 'cls', 'jpg'\]"):
        ImageClassificationData.from_shards(train_files=str(tmp_path / "shards" / "*.tar"),
                                            **{**KW, "input_field": "png"})
