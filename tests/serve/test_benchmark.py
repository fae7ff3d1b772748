"""The serving benchmark still runs, and flash serve answers exactly as the hand-written endpoint does.

Not a timing test: the numbers come from the full run (README "Deploy"); ``--quick`` checks correctness only.
The checks read the results ``--json PATH`` writes, not the printed table.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "serve_throughput.py"


@pytest.mark.slow
def test_serve_throughput_quick_run_gives_identical_answers(tmp_path):
    path = tmp_path / "serve.json"
    result = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--json", str(path)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    levels = json.loads(path.read_text())["levels"]
    assert [level["clients"] for level in levels] == [1, 8]
    for level in levels:
        assert level["answers_identical"], level
        assert level["ratio"] > 0 and level["flash serve"]["rps"] > 0 and level["hand-written"]["rps"] > 0
