"""Reports after detection and speech fits, and the metrics behind them (AP, alignments)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import flash
from flash.audio.speech_recognition.reporting import align, diff_html, error_count
from flash.image.detection.reporting import average_precision, precision_recall
from tests.reports.conftest import is_picture, read_csv


def _boxes(*rows):
    return torch.tensor(rows, dtype=torch.float32).reshape(-1, 4)


def test_average_precision_by_hand():
    truth = [{"boxes": _boxes([0, 0, 10, 10], [20, 20, 30, 30]), "labels": torch.tensor([1, 1])}]
    # best score hits, second misses (IoU 0), third hits the other box: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1
    detections = [{"boxes": _boxes([0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 31]),
                   "labels": torch.tensor([1, 1, 1]), "scores": torch.tensor([0.9, 0.8, 0.7])}]
    precision, recall, num_true = precision_recall(detections, truth, 1)
    assert num_true == 2 and precision.tolist() == pytest.approx([1.0, 0.5, 2 / 3])
    assert recall.tolist() == [0.5, 0.5, 1.0]
    assert average_precision(precision, recall) == pytest.approx(0.5 * 1.0 + 0.5 * 2 / 3)
    duplicate = [{"boxes": _boxes([0, 0, 10, 10], [0, 0, 10, 10]), "labels": torch.tensor([1, 1]),
                  "scores": torch.tensor([0.9, 0.8])}]
    assert precision_recall(duplicate, truth, 1)[0].tolist() == [1.0, 0.5]  # a true box matches once
    assert average_precision(np.array([]), np.array([])) == 0.0


def test_alignment_marks_substitutions_deletions_insertions():
    ops = align("the cat sat on the mat".split(), "the bat sat on mat today".split())
    assert [op for op, _, _ in ops] == ["=", "sub", "=", "=", "del", "=", "ins"]
    assert error_count("a b c".split(), "a b c".split()) == 0
    assert diff_html(ops).startswith("the <del>cat</del><ins>bat</ins> sat on <del>the</del> mat <ins>today</ins>")
    assert diff_html([("ins", "", "<b>")]) == "<ins>&lt;b&gt;</ins>"


def test_detection_report(tmp_path):
    from flash.image import ObjectDetectionData
    from flash.image.detection.demo import write_shapes
    from tests.image.detection.conftest import tiny_model

    train = write_shapes(tmp_path / "train", num_images=4, seed=0, size=(96, 128))
    val = write_shapes(tmp_path / "val", num_images=4, seed=1, size=(96, 128))
    datamodule = ObjectDetectionData.from_coco(train_folder=str(tmp_path / "train"), train_ann_file=str(train),
                                               val_folder=str(tmp_path / "val"), val_ann_file=str(val), batch_size=2,
                                               transform_kwargs={"image_size": 64})
    model = tiny_model(labels=datamodule.labels, threshold=0.0)
    trainer = flash.Trainer(max_epochs=1, enable_progress_bar=False, enable_checkpointing=False,
                            default_root_dir=tmp_path / "logs")
    trainer.fit(model, datamodule=datamodule)
    folder = Path(trainer.log_dir) / "report"
    page = (folder / "index.html").read_text()
    for picture in ("curves.svg", "pr_curves.svg", "val_images.png"):
        assert is_picture(folder / picture) and f'src="{picture}"' in page
    rows = read_csv(folder / "per_class_ap.csv")
    import json

    annotations = json.loads(Path(val).read_text())
    names = {c["id"]: c["name"] for c in annotations["categories"]}
    expected = {}
    for a in annotations["annotations"]:
        expected[names[a["category_id"]]] = expected.get(names[a["category_id"]], 0) + 1
    assert {r["class"]: int(r["true boxes"]) for r in rows if int(r["true boxes"])} == expected
    assert all(0.0 <= float(r["AP@0.5"]) <= 1.0 for r in rows)


def test_speech_report_wer_matches_the_logged_metric(tmp_path):
    from flash.audio import SpeechRecognitionData, SpeechRecognizer
    from flash.audio.speech_recognition.demo import demo_rows

    torch.manual_seed(0)
    rows = demo_rows()
    train, val = rows[:4], [r for r in rows if r["voice"] == "f"][:6]
    datamodule = SpeechRecognitionData.from_files([r["file"] for r in train], [r["text"] for r in train],
                                                  val_files=[r["file"] for r in val],
                                                  val_targets=[r["text"] for r in val], batch_size=3)
    model = SpeechRecognizer("tiny-wav2vec2-ctc", learning_rate=3e-3)
    trainer = flash.Trainer(max_epochs=1, enable_progress_bar=False, enable_checkpointing=False,
                            default_root_dir=tmp_path)
    trainer.fit(model, datamodule=datamodule)
    folder = Path(trainer.log_dir) / "report"
    rates = read_csv(folder / "error_rates.csv")[0]
    assert int(rates["utterances"]) == 6
    assert float(rates["WER"]) == pytest.approx(float(trainer.callback_metrics["val_wer"]), abs=1e-6)
    assert float(rates["CER"]) == pytest.approx(float(trainer.callback_metrics["val_cer"]), abs=1e-6)
    worst = read_csv(folder / "worst_utterances.csv")
    assert len(worst) == 6 and {w["utterance"] for w in worst} == {Path(r["file"]).name for r in val}
    assert [float(w["WER"]) for w in worst] == sorted((float(w["WER"]) for w in worst), reverse=True)
    assert "<del>" in (folder / "index.html").read_text() or all(w["reference"] == w["hypothesis"] for w in worst)
