"""The built-in demo data set and backbone (used by ``flash train text_classification`` with no data)."""

from __future__ import annotations

import csv

from flash.text.classification.backbones import minilm_folder, resolve_backbone
from flash.text.classification.demo import DEMO_CSV, DEMO_MODEL, demo_datamodule


def test_demo_data_is_shipped_balanced_and_loads():
    with open(DEMO_CSV, encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) >= 300 and len({r["review"] for r in rows}) == len(rows)
    assert sum(r["sentiment"] == "positive" for r in rows) == len(rows) // 2
    dm = demo_datamodule(batch_size=8, val_split=0.25)
    assert dm.labels == ["negative", "positive"] and dm.batch_size == 8
    assert len(dm.train_dataset) + len(dm.val_dataset) == len(rows) and len(dm.val_dataset) == len(rows) // 4


def test_demo_backbone_resolves_offline_when_the_package_is_installed():
    folder = minilm_folder()
    assert resolve_backbone(DEMO_MODEL["backbone"]) == (folder or DEMO_MODEL["backbone"])
