"""`flash predict` writes as it goes: rows flushed per batch, a killed run keeps what it finished, `--resume`
completes it without duplicates, a JSON array is valid at the end, `--output FOLDER/` writes files through the
task's `write` adapter. Driven by the fake task (tests/cli/fake_task.py), so the CLI's logic is tested alone."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from flash.cli import main

from . import fake_task
from .fake_task import predicted

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [f"text number {i}" + "!" * (i % 4) for i in range(10)]


@pytest.fixture
def fake(monkeypatch, tmp_path) -> Path:
    """The fake tasks installed; the working folder is tmp_path; returns the fake checkpoint."""
    fake_task.install(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLASH_FAKE_BLOCK_AFTER", raising=False)
    monkeypatch.delenv("FLASH_FAKE_FAIL_ON", raising=False)
    return fake_task.save(tmp_path / "fake.pt")


def _rows(path: Path) -> list[tuple[str, str]]:
    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as handle:
            return [(row["input"], row["prediction"]) for row in csv.DictReader(handle)]
    if path.suffix == ".jsonl":
        return [(row["input"], row["prediction"]) for row in map(json.loads, path.read_text().splitlines())]
    return [(row["input"], row["prediction"]) for row in json.loads(path.read_text())]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".json"])
def test_every_format_holds_every_prediction_in_order(fake, suffix, capsys):
    out = Path(f"out{suffix}")
    assert main(["predict", "--checkpoint", str(fake), *TEXTS, "--output", str(out), "--batch-size", "3"]) == 0
    assert _rows(out) == [(text, predicted(text)) for text in TEXTS]
    assert f"Wrote {len(TEXTS)} predictions to {out}" in capsys.readouterr().out


def test_printed_lines_come_per_batch(fake, capsys):
    assert main(["predict", "--checkpoint", str(fake), *TEXTS[:4], "--batch-size", "3"]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{text}\t{predicted(text)}" for text in TEXTS[:4]]


def _start_killable(tmp_path: Path, out: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "FLASH_FAKE_BLOCK_AFTER": "2", "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "tests.cli.fake_task", "predict", "--checkpoint", "fake.pt",
                             *TEXTS, "--output", out.name, "--batch-size", "3"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for_rows(proc: subprocess.Popen, out: Path, count: int) -> None:
    """Until ``out`` holds ``count`` rows (the process then blocks in its next batch, until killed)."""
    deadline = time.monotonic() + 300  # a safety net only: the run blocks after `count` rows whatever the speed
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        if out.is_file() and len(_rows(out)) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{out} never held {count} rows")


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_killed_run_keeps_its_batches_and_resume_completes_it(fake, tmp_path, suffix, capsys):
    out = tmp_path / f"out{suffix}"
    proc = _start_killable(tmp_path, out)
    try:
        _wait_for_rows(proc, out, 6)  # two batches of 3 written; the third blocks
    finally:
        proc.kill()
        proc.communicate()
    assert _rows(out) == [(text, predicted(text)) for text in TEXTS[:6]]

    assert main(["predict", "--checkpoint", str(fake), *TEXTS, "--output", str(out), "--batch-size", "3",
                 "--resume"]) == 0
    assert _rows(out) == [(text, predicted(text)) for text in TEXTS]  # each once, in order
    printed = capsys.readouterr().out
    assert "6 of 10 inputs are already in" in printed and "Wrote 4 predictions" in printed


@pytest.mark.parametrize("suffix, cut", [(".csv", 'text number 9!,"len1'), (".jsonl", '{"input": "text number 9!"')])
def test_resume_predicts_again_a_row_a_kill_cut_in_half(fake, suffix, cut):
    out = Path(f"out{suffix}")
    assert main(["predict", "--checkpoint", str(fake), *TEXTS[:3], "--output", str(out)]) == 0
    with open(out, "a", encoding="utf-8", newline="") as handle:
        handle.write(cut)  # a kill in the middle of writing a row
    assert main(["predict", "--checkpoint", str(fake), *TEXTS, "--output", str(out), "--resume"]) == 0
    assert _rows(out) == [(text, predicted(text)) for text in TEXTS]


def test_a_failed_run_keeps_jsonl_rows_and_leaves_no_json_file(fake, monkeypatch, capsys):
    monkeypatch.setenv("FLASH_FAKE_FAIL_ON", TEXTS[7])
    assert main(["predict", "--checkpoint", str(fake), *TEXTS, "--output", "out.jsonl", "--batch-size", "3"]) == 1
    captured = capsys.readouterr()
    assert f"Cannot read input '{TEXTS[7]}'" in captured.err and "Traceback" not in captured.err
    assert "--resume" in captured.out and len(_rows(Path("out.jsonl"))) == 6
    assert main(["predict", "--checkpoint", str(fake), *TEXTS, "--output", "out.json", "--batch-size", "3"]) == 1
    assert not Path("out.json").exists()  # half a JSON array is not a result
    Path("old.json").write_text("[]\n")
    assert main(["predict", "--checkpoint", str(fake), *TEXTS, "--output", "old.json", "--batch-size", "3"]) == 1
    assert Path("old.json").read_text() == "[]\n"  # the file it was replacing is back
    assert sorted(p.name for p in Path().iterdir()) == ["fake.pt", "old.json", "out.jsonl"]


def test_results_are_not_kept_in_memory(fake, tmp_path):
    """2,000 predictions of 10 kB each (20 MB) stream through a few batches' worth of memory."""
    column = tmp_path / "inputs.csv"
    column.write_text("text\n" + "".join(f"input {i}\n" for i in range(2000)))
    tracemalloc.start()
    try:
        code = main(["predict", "--checkpoint", str(fake), str(column), "--column", "text", "--output-type", "big",
                     "--output", "out.jsonl", "--batch-size", "50"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert code == 0 and len(_rows(tmp_path / "out.jsonl")) == 2000
    assert peak < 5_000_000, f"peak {peak / 1e6:.1f} MB for 20 MB of predictions"


def test_folder_output_writes_files_through_the_tasks_write_adapter(fake, tmp_path, capsys):
    assert main(["predict", "--checkpoint", str(fake), *TEXTS[:4], "--output", "preds/"]) == 0
    files = sorted((tmp_path / "preds").iterdir())
    assert len(files) == 4
    assert sorted(f.read_text() for f in files) == sorted(f"{t}\t{predicted(t)}\n" for t in TEXTS[:4])
    assert "Wrote 4 predictions to preds/" in capsys.readouterr().out


def test_folder_output_of_a_task_without_write_names_the_file_formats(fake, tmp_path, capsys):
    checkpoint = fake_task.save(tmp_path / "nowrite.pt", fake_task.NO_WRITE)
    assert main(["predict", "--checkpoint", str(checkpoint), "a text", "--output", "preds/"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert "fake_nowrite task cannot write its predictions as files" in error
    assert ".csv, .jsonl, .json" in error and "--output preds/" in error
    assert not (tmp_path / "preds").exists()


@pytest.mark.parametrize("args, message", [
    (["--output", "out.json", "--resume"], "a .json array cannot be continued"),
    (["--resume"], "give --output"),
    (["--output", "preds/", "--resume"], "not a folder"),
])
def test_resume_needs_a_csv_or_jsonl_file(fake, args, message, capsys):
    assert main(["predict", "--checkpoint", str(fake), "a text", *args]) == 2
    assert message in capsys.readouterr().err


def test_resume_refuses_a_file_flash_did_not_write(fake, capsys):
    Path("mine.csv").write_text("name,score\nalice,3\n")
    assert main(["predict", "--checkpoint", str(fake), "a text", "--output", "mine.csv", "--resume"]) == 1
    assert "'mine.csv' is not a flash predict output" in capsys.readouterr().err
    assert Path("mine.csv").read_text() == "name,score\nalice,3\n"
