"""Reports after image and text classification fits: files exist, pictures are not blank, numbers are right."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import flash
from flash.errors import ConfigurationError
from tests.image.classification.conftest import TINY
from tests.reports.conftest import is_picture, read_csv
from tests.text.helpers import build_tiny_bert, make_reviews


def _digits(n: int = 120):
    from flash.image.classification.demo import load_digits

    images, targets = load_digits()
    return images[:n], targets[:n]


@pytest.fixture(scope="module")
def image_run(tmp_path_factory):
    """A tiny CNN fitted one epoch on 120 digits (30 held out), with the default report."""
    from flash.image import ImageClassificationData, ImageClassifier

    torch.manual_seed(0)
    images, targets = _digits()
    datamodule = ImageClassificationData.from_numpy(train_data=images[:90], train_targets=targets[:90],
                                                    val_data=images[90:], val_targets=targets[90:], batch_size=16,
                                                    labels=[str(i) for i in range(10)])
    model = ImageClassifier(backbone=TINY, labels=datamodule.labels, pretrained=False)
    trainer = flash.Trainer(max_epochs=1, enable_progress_bar=False, enable_checkpointing=False,
                            default_root_dir=tmp_path_factory.mktemp("image"))
    trainer.fit(model, datamodule=datamodule)
    return model, trainer, datamodule


def test_image_report_files_and_numbers(image_run):
    model, trainer, datamodule = image_run
    folder = Path(trainer.log_dir) / "report"
    page = (folder / "index.html").read_text()
    for picture in ("curves.svg", "confusion_matrix.svg", "mistakes.png"):
        assert is_picture(folder / picture) and f'src="{picture}"' in page
    rows = read_csv(folder / "per_class.csv")
    assert [r["class"] for r in rows] == datamodule.labels
    targets = np.array(_digits()[1][90:])
    assert [int(r["support"]) for r in rows] == np.bincount(targets, minlength=10).tolist()
    predicted = np.array([int(p) for p in model.predict(list(_digits()[0][90:]), output="classes")])
    for label, row in enumerate(rows):  # recall and precision as a second, independent prediction pass sees them
        hits = int(((predicted == label) & (targets == label)).sum())
        assert float(row["recall"]) == pytest.approx(hits / max((targets == label).sum(), 1))
        assert float(row["precision"]) == pytest.approx(hits / max((predicted == label).sum(), 1))
    assert f"accuracy {trainer.callback_metrics['val_accuracy']:.4f}" in page
    facts = {r["fact"]: r["value"] for r in read_csv(folder / "run.csv")}
    assert facts["task"] == "ImageClassifier" and facts["train samples"] == "90" and facts["val samples"] == "30"
    assert facts["epochs"] == "1"
    assert float(facts["val_accuracy"]) == pytest.approx(trainer.callback_metrics["val_accuracy"])


def test_report_off_and_on_demand(image_run, tmp_path):
    from flash.reports import ReportCallback

    model, trainer, datamodule = image_run
    quiet = flash.Trainer(report=False, logger=False, enable_progress_bar=False, default_root_dir=tmp_path)
    assert not any(isinstance(c, ReportCallback) for c in quiet.callbacks)
    quiet.validate(model, datamodule=datamodule)
    assert not (tmp_path / "report").exists()
    assert not any(isinstance(c, ReportCallback) for c in flash.Trainer(fast_dev_run=True).callbacks)
    path = flash.report(tmp_path / "logs", model, datamodule)  # a folder with no metrics.csv: a note, no curves
    assert path == tmp_path / "logs" / "report" / "index.html" and "No curves" in path.read_text()
    assert is_picture(path.parent / "confusion_matrix.svg")
    assert flash.report(trainer) == Path(trainer.log_dir) / "report" / "index.html"  # reuses the fit's outputs
    with pytest.raises(ConfigurationError, match="Received: report='yes'"):
        flash.Trainer(report="yes")


def test_multi_label_report(tmp_path):
    from flash.image import ImageClassificationData, ImageClassifier

    torch.manual_seed(0)
    images, digits = _digits(60)
    targets = [[int(d % 2 == 0), int(d >= 5), int(d == 0)] for d in digits]  # even, big, zero
    datamodule = ImageClassificationData.from_numpy(train_data=images[:40], train_targets=targets[:40],
                                                    val_data=images[40:], val_targets=targets[40:], batch_size=20)
    assert datamodule.multi_label
    model = ImageClassifier(backbone=TINY, num_classes=3, multi_label=True, pretrained=False)
    trainer = flash.Trainer(max_epochs=1, enable_progress_bar=False, enable_checkpointing=False,
                            default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    rows = read_csv(Path(trainer.log_dir) / "report" / "per_label.csv")
    truth = np.array(targets[40:])
    assert [int(r["support"]) for r in rows] == truth.sum(axis=0).tolist()
    probabilities = np.array(model.predict(list(images[40:]), output="probabilities"))
    assert [int(r["predicted"]) for r in rows] == (probabilities >= 0.5).sum(axis=0).tolist()


def test_text_report_lists_mistakes_as_text(tmp_path):
    from flash.text import TextClassificationData, TextClassifier

    torch.manual_seed(0)
    texts, labels = make_reviews(24)
    datamodule = TextClassificationData.from_lists(texts[:16], labels[:16], val_data=texts[16:],
                                                   val_targets=labels[16:], batch_size=8)
    backbone = build_tiny_bert(tmp_path / "bert")
    model = TextClassifier(datamodule.num_classes, backbone=backbone, labels=datamodule.labels)
    trainer = flash.Trainer(max_epochs=1, enable_progress_bar=False, enable_checkpointing=False,
                            default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    folder = Path(trainer.log_dir) / "report"
    rows = read_csv(folder / "per_class.csv")
    assert sum(int(r["support"]) for r in rows) == 8
    mistakes = read_csv(folder / "mistakes.csv")  # an untrained model gets some of the 8 wrong
    assert mistakes and all(m["input"] in texts[16:] and m["true"] != m["predicted"] for m in mistakes)
    probabilities = [float(m["probability"]) for m in mistakes]
    assert probabilities == sorted(probabilities, reverse=True)
