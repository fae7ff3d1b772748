"""The peer benchmarks (benchmarks/peers/) still run and return what their tables are built from.

Not a timing test: ``--quick`` runs tiny random models (BERT on flash's demo reviews; Whisper and wav2vec2 CTC on its
bundled espeak-ng words), one round, and this checks the data only: both contenders ran on the same split and both
accuracies (accuracy; WER, CER and validation loss) are numbers.
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
