"""benchmarks/segmentation_finetune.py --quick runs and compares both sides (no timing is checked: speed is read from
the full run by hand)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCHMARK = Path(__file__).resolve().parents[3] / "benchmarks" / "segmentation_finetune.py"


def test_quick_run_reports_both_ratios_and_both_mious(tmp_path):
    result = subprocess.run([sys.executable, str(BENCHMARK), "--quick"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-3000:])
    assert re.search(r"freeze epoch: flash [\d.]+ s, hand [\d.]+ s, ratio flash/hand [\d.]+", result.stdout)
    assert re.search(r"predict: flash [\d.]+ images/s, hand [\d.]+ images/s, ratio flash/hand [\d.]+", result.stdout)
    found = re.search(r"val mIoU after one freeze epoch: flash ([\d.]+), hand ([\d.]+)", result.stdout)
    assert found and all(0.0 <= float(v) <= 1.0 for v in found.groups())
