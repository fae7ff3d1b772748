"""TextClassificationData.from_shards (issue 31 item 3): .parquet shards of texts, streamed."""

from __future__ import annotations

import pytest

import flash
from flash.errors import DataError
from flash.text import TextClassificationData, TextClassifier
from tests.core.shard_helpers import write_parquet_shards

pytest.importorskip("datasets")


def test_parquet_shards_train_a_tiny_bert_with_two_workers(tiny_bert, tmp_path):
    write_parquet_shards(tmp_path / "shards", shards=3, per_shard=4)
    dm = TextClassificationData.from_shards(train_files=f"file://{tmp_path}/shards/train-*.parquet",
                                            val_files=[str(tmp_path / "shards" / "train-000.parquet")],
                                            input_field="text", target_fields="label", labels=["neg", "pos"],
                                            batch_size=4, num_workers=2, shuffle_buffer=4)
    assert dm.train_dataset.source.n_shards == 3 and dm.val_dataset.source.n_shards == 1
    model = TextClassifier(backbone=tiny_bert, labels=dm.labels, pretrained=False)
    trainer = flash.Trainer(max_epochs=1, max_steps=3, default_root_dir=str(tmp_path / "run"), logger=False,
                            enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, datamodule=dm)
    assert trainer.global_step == 3
    targets = [t for batch in dm.train_dataloader() for t in batch["target"].tolist()]
    assert len(targets) == 12 and sum(targets) == 6  # every text once: ids 0..11, the odd ones "pos"


def test_the_text_column_must_be_in_the_shards(tmp_path):
    write_parquet_shards(tmp_path / "shards", shards=1)
    with pytest.raises(DataError, match=r"no column 'sentence'; their columns are \['id', 'label', 'text'\]"):
        TextClassificationData.from_shards(str(tmp_path / "shards" / "*.parquet"), input_field="sentence",
                                           target_fields="label", labels=["neg", "pos"])
