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


LOAD_SCRIPT = SCRIPT.parent / "serve_load.py"


@pytest.mark.slow
def test_serve_load_quick_run_answers_every_request_and_refuses_overload_with_503(tmp_path):
    """Every request answered (sent == answered, no timeouts), bad files 4xx, and a small queue under 16 clients
    answers 503 with Retry-After; not a timing test (the latency goal is read from the full run)."""
    path = tmp_path / "load.json"
    result = subprocess.run([sys.executable, str(LOAD_SCRIPT), "--quick", "--json", str(path)], cwd=tmp_path,
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, (result.stdout[-2000:], result.stderr[-2000:])
    data = json.loads(path.read_text())
    for phase in (data["flash serve"]["capacity"], data["flash serve"]["half"]):
        assert phase["sent"] == phase["answered"] == 96, phase
        assert set(phase["status"]) == {"200", "415", "422"} and phase["bad_inputs_answered_4xx"], phase
        assert phase["answers_consistent"] and phase["rps"] > 0 and phase["p99_ms"] >= phase["p50_ms"] > 0
    overload = data["overload"]
    assert overload["sent"] == overload["answered"] == 96 and overload["status"].get("503", 0) > 0, overload
    assert set(overload["status"]) <= {"200", "415", "422", "503"}, overload  # no timeout, no 5xx but 503
    assert overload["retry_after"] and all(value.isdigit() and int(value) >= 1 for value in overload["retry_after"])
    assert overload["health"]["rejected"] == overload["status"]["503"] and overload["health"]["queue_depth"] == 0
