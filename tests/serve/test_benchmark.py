"""The serving benchmark still runs, and flash serve answers exactly as the hand-written endpoint does.

Not a timing test: the numbers come from the full run (README "Deploy"); ``--quick`` checks correctness only.
"""

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "serve_throughput.py"


def test_serve_throughput_quick_run_gives_identical_answers(tmp_path):
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick"], cwd=tmp_path, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    for clients in (1, 8):
        assert f"answers identical at {clients} clients: True" in result.stdout
    assert result.stdout.count("x\n") == 2  # one flash / hand-written ratio per level
