"""The peer benchmarks (benchmarks/peers/) still run and return what their tables are built from.

Not a timing test: ``--quick`` runs a tiny random BERT on flash's demo reviews, one round, and this checks the
data only: both contenders ran on the same split and both accuracies are numbers.
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
