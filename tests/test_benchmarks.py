"""The engine benchmark still runs and flash still computes the hand loop's exact math.

Not a timing test: speed is read from the full run by hand (benchmarks/README.md). This smoke run
checks what would make those numbers meaningless: the script failing, or flash's final weights
differing from the hand-written loop's.
"""

import re
import subprocess
import sys
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def test_engine_overhead_quick_run_gives_equal_weights(tmp_path):
    result = subprocess.run([sys.executable, str(BENCHMARKS / "engine_overhead.py"), "--quick"], cwd=tmp_path,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    assert "final weights, flash vs hand: equal (torch.equal)" in result.stdout
    assert "lockstep" in result.stdout and "A/A control" in result.stdout
    counted = re.search(r"bytecodes per training step.*: flash (\d+), hand (\d+)", result.stdout)
    assert counted and int(counted[1]) > int(counted[2]) > 0  # flash runs the hand loop's code and its own
