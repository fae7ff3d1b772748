"""``flash data inspect`` finds one input given twice inside a split: an error when the copies carry different
labels (the model is told two answers for one input), a warning when they agree; both copies are named."""

from __future__ import annotations

import shutil

import numpy as np

from flash.cli import main
from tests.image.classification.conftest import write_folder
from tests.reports.test_inspect import _write_csv


def _inspect(capsys, *args) -> tuple[int, str]:
    code = main(["data", "inspect", *map(str, args)])
    return code, capsys.readouterr().out


def _finding(out: str, level: str) -> str:
    return next((line for line in out.splitlines() if line.startswith(level) and "copies of other" in line), "")


def test_the_same_image_under_two_classes_is_an_error(tmp_path, capsys):
    root = write_folder(tmp_path / "train", 6, seed=0)
    shutil.copy(root / "blue" / "0.png", root / "red" / "also_blue.png")
    code, out = _inspect(capsys, root)
    error = _finding(out, "ERROR")
    assert code == 1 and "1 train samples are copies of other train samples (by content hash) with different labels" \
        in error and "two answers for one input" in error
    assert f"'{root / 'blue' / '0.png'}' ('blue') = '{root / 'red' / 'also_blue.png'}' ('red')" in error
    assert not _finding(out, "WARNING")


def test_the_same_image_twice_in_one_class_is_a_warning(tmp_path, capsys):
    root = write_folder(tmp_path / "train", 6, seed=0)
    shutil.copy(root / "blue" / "1.png", root / "blue" / "again.png")
    code, out = _inspect(capsys, root)
    warning = _finding(out, "WARNING")
    assert code == 0 and "1 train samples are copies of other train samples (by content hash) with the same label" \
        in warning and not _finding(out, "ERROR")
    assert f"'{root / 'blue' / '1.png'}' = '{root / 'blue' / 'again.png'}'" in warning


def test_the_same_text_with_two_labels_is_an_error_and_with_one_a_warning(tmp_path, capsys):
    rows = [{"review": "a great film", "sentiment": "pos"}, {"review": "a dull plot", "sentiment": "neg"},
            {"review": "a great film", "sentiment": "neg"}, {"review": "a dull plot", "sentiment": "neg"}]
    _write_csv(tmp_path / "train.csv", rows)
    code, out = _inspect(capsys, tmp_path / "train.csv", "--task", "text_classification")
    assert code == 1
    assert "row 2 'a great film' ('pos') = row 4 'a great film' ('neg')" in _finding(out, "ERROR")
    assert "with the same label" in _finding(out, "WARNING") and "row 3 'a dull plot' = row 5 'a dull plot'" in out


def test_an_image_listed_twice_in_coco(tmp_path, capsys):
    from tests.image.detection.conftest import save_noise, write_coco

    save_noise(tmp_path / "0.png")
    save_noise(tmp_path / "1.png")  # the same pixels under another name: distinct scenes, not a copy
    images = [{"id": 1, "file_name": "0.png", "width": 64, "height": 48},
              {"id": 2, "file_name": "1.png", "width": 64, "height": 48},
              {"id": 3, "file_name": "0.png", "width": 64, "height": 48}]
    annotations = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 20]},
                   {"id": 2, "image_id": 2, "category_id": 1, "bbox": [2, 2, 10, 20]},
                   {"id": 3, "image_id": 3, "category_id": 2, "bbox": [2, 2, 10, 20]}]
    write_coco(tmp_path / "train.json", images, annotations)
    code, out = _inspect(capsys, tmp_path / "train.json")
    error = _finding(out, "ERROR")
    assert code == 1 and "1 train samples are copies of other train samples (the same file listed twice)" in error
    assert "1.png" not in error and f"'{tmp_path / '0.png'}' (['cat'] with boxes [[2, 2, 12, 22]])" in error
    annotations[2]["category_id"] = 1  # the same boxes and labels twice: counted twice
    write_coco(tmp_path / "train.json", images, annotations)
    code, out = _inspect(capsys, tmp_path / "train.json")
    assert code == 0 and "(the same file listed twice) with the same label" in _finding(out, "WARNING")


def test_the_same_audio_with_two_transcripts_is_an_error(tmp_path, capsys):
    import soundfile

    soundfile.write(tmp_path / "a.wav", np.zeros(1600, np.float32), 16000)
    soundfile.write(tmp_path / "b.wav", np.ones(1600, np.float32) * 0.1, 16000)
    rows = [{"file": "a.wav", "text": "hello world"}, {"file": "b.wav", "text": "good bye"},
            {"file": "a.wav", "text": "hollow word"}]
    _write_csv(tmp_path / "speech.csv", rows)
    code, out = _inspect(capsys, tmp_path / "speech.csv")
    assert code == 1 and "('hello world') = " in _finding(out, "ERROR") and "('hollow word')" in out
