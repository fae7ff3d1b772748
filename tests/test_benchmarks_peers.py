"""The peer benchmarks (benchmarks/peers/) still run and return what their tables are built from.

Not timing tests: ``--quick`` runs each script on tiny data with random weights (text: a tiny random BERT on flash's
demo reviews; speech: Whisper and wav2vec2 CTC on its bundled espeak-ng words), one round, and these check the data
only: both contenders ran on the same split (and, for the vision ones, on networks of the same size) and both
accuracies (accuracy, mAP or mIoU; WER, CER and validation loss) are numbers.
"""

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

PEERS = Path(__file__).resolve().parent.parent / "benchmarks" / "peers"


@pytest.mark.slow
def test_text_hf_trainer_quick_run_returns_both_contenders_on_one_split(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate", reason='the HF Trainer needs it: pip install "flash-finetune[bench]"')
    pytest.importorskip("datasets")
    out = tmp_path / "result.json"
    result = subprocess.run([sys.executable, str(PEERS / "text_hf_trainer.py"), "--quick", "--json", str(out)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    data = json.loads(out.read_text())
    assert data["quick"] and set(data["modes"]) == {"full", "freeze"}
    for mode in data["modes"].values():
        summary = mode["summary"]
        assert summary["same_split"] and len(summary["split"]) == 1
        assert sorted(run["contender"] for run in mode["runs"]) == ["flash", "hf"]
        for side in ("flash", "hf"):
            (acc,) = summary[f"accuracy_{side}"]
            assert isinstance(acc, float) and 0.0 <= acc <= 1.0
        for key in ("fit_s", "predict_s"):
            assert len(summary[key]["ratios"]) == 1 and math.isfinite(summary[key]["median"])
    assert "fit_s: flash/hf median" in result.stdout and "same split: True" in result.stdout


@pytest.mark.slow
def test_speech_hf_trainer_quick_run_returns_both_contenders_on_one_split(tmp_path):
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate", reason='the HF Trainer needs it: pip install "flash-finetune[bench]"')
    pytest.importorskip("datasets")
    pytest.importorskip("soundfile")
    out = tmp_path / "result.json"
    result = subprocess.run([sys.executable, str(PEERS / "speech_hf_trainer.py"), "--quick", "--json", str(out)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    data = json.loads(out.read_text())
    assert data["quick"] and set(data["modes"]) == {"whisper", "ctc"}
    for mode in data["modes"].values():
        summary = mode["summary"]
        assert summary["same_split"] and len(summary["split"]) == 1
        assert sorted(run["contender"] for run in mode["runs"]) == ["flash", "hf"]
        for side in ("flash", "hf"):
            (wer,), (cer,), (loss,) = (summary[f"{metric}_{side}"] for metric in ("wer", "cer", "val_loss"))
            assert all(isinstance(x, float) and math.isfinite(x) and x >= 0.0 for x in (wer, cer, loss))
        for run in mode["runs"]:  # both transcribed the same held-out clips (the first three shown)
            assert [reference for reference, _ in run["examples"]] == ["yes", "no", "up"]
        for key in ("fit_s", "predict_s"):
            assert len(summary[key]["ratios"]) == 1 and math.isfinite(summary[key]["median"])
    assert "fit_s: flash/hf median" in result.stdout and "same split: True" in result.stdout
    assert "wer flash" in result.stdout and "val_loss flash" in result.stdout


def _quick_run(script: str, tmp_path: Path) -> tuple[dict, str]:
    out = tmp_path / "result.json"
    result = subprocess.run([sys.executable, str(PEERS / script), "--quick", "--json", str(out)],
                            cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    return json.loads(out.read_text()), result.stdout


def _check_one_mode(data: dict, peer: str, *, extra_keys: tuple[str, ...] = ()) -> None:
    """One mode, both contenders once on the same split, on the same network (parameter count), metrics numbers."""
    assert data["quick"] and list(data["modes"]) == ["freeze"]
    mode = data["modes"]["freeze"]
    summary = mode["summary"]
    assert summary["same_split"] and len(summary["split"]) == 1
    runs = {run["contender"]: run for run in mode["runs"]}
    assert sorted(runs) == sorted(["flash", peer]) and len(mode["runs"]) == 2
    assert runs["flash"]["params"] == runs[peer]["params"] > 0
    for side in ("flash", peer):
        (acc,) = summary[f"accuracy_{side}"]
        assert isinstance(acc, float) and 0.0 <= acc <= 1.0
        for key in extra_keys:
            assert math.isfinite(runs[side][key]) and runs[side][key] >= 0
    for key in ("fit_s", "predict_s"):
        assert len(summary[key]["ratios"]) == 1 and math.isfinite(summary[key]["median"])


@pytest.mark.slow
def test_image_lightning_quick_run_returns_both_contenders_on_one_split(tmp_path):
    pytest.importorskip("torchvision")
    pytest.importorskip("sklearn")
    pytest.importorskip("lightning", reason="the peer: pip install lightning")
    data, stdout = _quick_run("image_lightning.py", tmp_path)
    _check_one_mode(data, "lightning")
    assert "fit_s: flash/lightning median" in stdout and "same split: True" in stdout


@pytest.mark.slow
def test_detection_torchvision_quick_run_returns_both_contenders_on_one_split(tmp_path):
    pytest.importorskip("torchvision")
    pytest.importorskip("pycocotools")
    pytest.importorskip("torchmetrics")
    data, stdout = _quick_run("detection_torchvision.py", tmp_path)
    _check_one_mode(data, "torchvision", extra_keys=("map", "images_per_s"))
    assert "fit_s: flash/torchvision median" in stdout and "same split: True" in stdout


@pytest.mark.slow
def test_segmentation_smp_quick_run_returns_both_contenders_on_one_split(tmp_path):
    pytest.importorskip("torchvision")
    pytest.importorskip("segmentation_models_pytorch")
    data, stdout = _quick_run("segmentation_smp.py", tmp_path)
    _check_one_mode(data, "smp", extra_keys=("images_per_s",))
    assert "fit_s: flash/smp median" in stdout and "same split: True" in stdout
