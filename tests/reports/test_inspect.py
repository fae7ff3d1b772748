"""``flash data inspect`` finds each kind of problem in tiny crafted data sets, and exits 1 only on errors."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np

from flash.cli import main
from tests.image.classification.conftest import write_folder
from tests.reports.conftest import is_picture, read_csv


def _inspect(capsys, *args) -> tuple[int, str]:
    code = main(["data", "inspect", *map(str, args)])
    return code, capsys.readouterr().out


def _row(out: str, first: str) -> list[str]:
    return next(line.split() for line in out.splitlines() if line.startswith(first + " "))


def test_clean_image_folders_pass_with_counts_sizes_and_pictures(tmp_path, capsys):
    write_folder(tmp_path / "data" / "train", 6, seed=0)
    write_folder(tmp_path / "data" / "val", 3, seed=1)
    code, out = _inspect(capsys, tmp_path / "data", "--report", tmp_path / "report")
    assert code == 0 and "ImageClassificationData.from_folders" in out and "No errors" in out
    assert _row(out, "blue") == ["blue", "6", "3"] and _row(out, "class") == ["class", "train", "val"]
    assert "image sizes: 18 values: 12x12 (18)" in out and "image modes: RGB (18)" in out
    assert read_csv(tmp_path / "report" / "counts.csv") == [{"class": "blue", "train": "6", "val": "3"},
                                                            {"class": "red", "train": "6", "val": "3"}]
    assert is_picture(tmp_path / "report" / "counts.png") and is_picture(tmp_path / "report" / "image_sizes.png")


def test_image_problems(tmp_path, capsys):
    from PIL import Image

    root = tmp_path / "data"
    write_folder(root / "train", 11, seed=0, classes=("blue",))
    write_folder(root / "train", 1, seed=5, classes=("red",))
    write_folder(root / "val", 2, seed=1, classes=("blue", "green"))
    shutil.copy(root / "train" / "blue" / "3.png", root / "val" / "blue" / "copy.png")  # a leak
    (root / "train" / "blue" / "broken.png").write_bytes(b"\x89PNG not really")
    Image.fromarray(np.full((20, 30), 128, np.uint8)).save(root / "train" / "red" / "grey.png")
    code, out = _inspect(capsys, root, "--task", "image_classification")
    assert code == 1 and "training would fail" in out
    assert "ERROR   Cannot read image" in out and "broken.png" in out
    assert "ERROR   Labels in val that never appear in train: green" in out
    assert "1 val samples are exact copies of training samples" in out and "copy.png" in out
    assert "Strong class imbalance in train: 'blue' has 11 examples, 'red' 2" not in out  # 11 / 2 is not > 10
    assert "Classes with fewer than 5 training examples: red" in out
    assert "L (1)" in out and "30x20 (1)" in out


def test_imbalance_warning_alone_does_not_fail(tmp_path, capsys):
    write_folder(tmp_path / "train", 11, seed=0, classes=("blue",))
    write_folder(tmp_path / "train", 1, seed=5, classes=("red",))
    code, out = _inspect(capsys, tmp_path / "train")
    assert code == 0 and "Strong class imbalance in train: 'blue' has 11 examples, 'red' 1 (11x)" in out


def _write_csv(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_text_problems_and_token_lengths(tmp_path, capsys):
    from tests.text.helpers import build_tiny_bert

    train = [{"review": "a great film", "sentiment": "pos"},
             {"review": "a dull plot and a weak story", "sentiment": "neg"}, {"review": "", "sentiment": "pos"}]
    val = [{"review": "a great film", "sentiment": "pos"}, {"review": "boring", "sentiment": "meh"}]
    _write_csv(tmp_path / "train.csv", train)
    _write_csv(tmp_path / "val.csv", val)
    code, out = _inspect(capsys, tmp_path, "--task", "text_classification")
    assert code == 1 and "from_csv" in out
    assert "row 4 has an empty 'review'" in out and "Labels in val that never appear in train: meh" in out
    assert "1 val samples are exact copies" in out and "text lengths (words): 4 values: min 1, median 3, max 7" in out
    tokenizer = build_tiny_bert(tmp_path / "bert")
    code, out = _inspect(capsys, tmp_path, "--task", "text_classification", "--tokenizer", tokenizer)
    assert "text lengths (tokens): 4 values: min 3, median 5, max 9" in out  # [CLS] ... [SEP]


def test_audio_durations_rates_and_unreadable(tmp_path, capsys):
    import soundfile

    rows = []
    for name, seconds, rate in (("a.wav", 0.5, 16000), ("b.wav", 1.0, 16000), ("c.wav", 0.25, 8000)):
        soundfile.write(tmp_path / name, np.zeros(int(seconds * rate), np.float32), rate)
        rows.append({"file": name, "text": "hello world"})
    (tmp_path / "bad.wav").write_bytes(b"RIFF....nope")
    rows += [{"file": "bad.wav", "text": "x"}, {"file": "gone.wav", "text": "y"}]
    _write_csv(tmp_path / "speech.csv", rows)
    code, out = _inspect(capsys, tmp_path / "speech.csv", "--report", tmp_path / "report")
    assert code == 1 and "speech_recognition data" in out
    assert "durations (s): 3 values: min 0.25, median 0.5, max 1" in out and "16000 (2), 8000 (1)" in out
    assert "Cannot read audio" in out and "bad.wav" in out and "Missing file" in out and "gone.wav" in out
    assert is_picture(tmp_path / "report" / "durations__s.png")


def test_detection_box_statistics_and_boxes_outside(tmp_path, capsys):
    from tests.image.detection.conftest import save_noise, write_coco

    save_noise(tmp_path / "0.png", size=(48, 64))
    save_noise(tmp_path / "1.png", size=(48, 64))
    images = [{"id": 1, "file_name": "0.png", "width": 64, "height": 48},
              {"id": 2, "file_name": "1.png", "width": 64, "height": 48}]
    annotations = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 20]},
                   {"id": 2, "image_id": 1, "category_id": 2, "bbox": [50, 30, 30, 10]},  # reaches x = 80 > 64
                   {"id": 3, "image_id": 2, "category_id": 1, "bbox": [5, 5, 0, 8]}]  # no area
    write_coco(tmp_path / "train.json", images, annotations)
    code, out = _inspect(capsys, tmp_path / "train.json")
    assert code == 0 and "object_detection data read by ObjectDetectionData.from_coco" in out
    assert "boxes per image: 2 values: min 1, median 2, max 2" in out and "box sizes: 3 values: 10x20 (1)" in out
    assert "1 boxes reach outside their image" in out and "[50, 30, 80, 40]" in out
    assert "1 boxes have no area" in out


def test_missing_path_is_a_clear_error(tmp_path, capsys):
    assert main(["data", "inspect", str(tmp_path / "nope")]) == 1  # a missing file is bad input: exit 1 (issue 32)
    assert "does not exist" in capsys.readouterr().err
