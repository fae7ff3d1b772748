"""What the benchmark scripts share: the ``--json PATH`` option that hands their numbers to tests and notes as data.

A script imports it as ``from _common import ...``: run as ``python benchmarks/<script>.py``, its own folder is on
``sys.path``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any


def add_json_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", metavar="PATH", help="also write the results to PATH as JSON")


def write_json(path: str | None, result: Any) -> None:
    """Write ``result`` to ``path`` as JSON (numpy and torch scalars as floats); nothing when ``path`` is None."""
    if path:
        Path(path).write_text(json.dumps(result, indent=2, default=float) + "\n")
