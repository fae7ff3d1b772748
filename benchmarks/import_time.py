"""How long ``import flash`` takes, against ``import torch`` alone.

Each statement runs in a fresh interpreter (``python -c``) with ``time.perf_counter`` around
it; statements alternate, several repeats each, and the medians are printed. ``import flash``
resolves its public names lazily and loads no torch, so the statement a user really pays for
is ``import flash; flash.Trainer`` (which imports torch and the engine). Then
``python -X importtime`` lists what flash adds on top of torch. Target: at most 0.15 s more
than ``import torch``. Results: benchmarks/README.md.

Usage:
    python benchmarks/import_time.py              # 7 repeats
    python benchmarks/import_time.py --repeats 3
    python benchmarks/import_time.py --json out.json   # the numbers also as JSON (what ``run`` returns)
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys

from _common import add_json_argument, write_json  # noqa: E402 - beside this script

STATEMENTS = {
    "import torch": "import torch",
    "import flash": "import flash",
    "import flash; flash.Trainer": "import flash; flash.Trainer",
}
TARGET_S = 0.15

_TIMER = (
    "import sys, time; t = time.perf_counter(); {stmt}; elapsed = time.perf_counter() - t; "
    "print(elapsed, 'torch' in sys.modules)"
)


def time_once(stmt: str) -> tuple[float, bool]:
    """Seconds the statement takes in a fresh interpreter, and whether torch got imported."""
    out = subprocess.run([sys.executable, "-c", _TIMER.format(stmt=stmt)], capture_output=True, text=True, check=True)
    elapsed, torch_loaded = out.stdout.split()
    return float(elapsed), torch_loaded == "True"


def flash_on_top_of_torch(most: int = 8) -> list[tuple[int, str]]:
    """The slowest imports (cumulative microseconds) that ``flash.Trainer`` adds after torch.

    ``flash`` resolves ``Trainer`` with ``importlib.import_module``, which ``-X importtime`` does not
    log, so the engine's modules show up at the top level and the trainer module itself is missing.
    """
    out = subprocess.run([sys.executable, "-X", "importtime", "-c", "import torch; import flash; flash.Trainer"],
                         capture_output=True, text=True, check=True)
    rows, after_torch = [], False
    for line in out.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        _, cumulative, name = line[len("import time:"):].split("|")
        if name.strip() == "torch" and name.startswith(" torch"):  # top-level torch is done
            after_torch = True
            continue
        if after_torch and not name.startswith("  "):  # top level: one leading space
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:most]


def run(repeats: int) -> dict:
    """Median seconds per statement over ``repeats`` fresh interpreters, and what flash adds to torch."""
    times: dict[str, list[float]] = {label: [] for label in STATEMENTS}
    loads_torch: dict[str, bool] = {}
    for stmt in STATEMENTS.values():  # warm the file cache once
        time_once(stmt)
    for _ in range(repeats):
        for label, stmt in STATEMENTS.items():
            elapsed, loads_torch[label] = time_once(stmt)
            times[label].append(elapsed)

    medians = {label: statistics.median(values) for label, values in times.items()}
    print(f"python {sys.version.split()[0]}, {repeats} fresh interpreters per statement (median):")
    for label, median in medians.items():
        print(f"  {label:<30} {median:7.3f} s   (torch imported: {'yes' if loads_torch[label] else 'no'})")
    torch_s = medians["import torch"]
    bare = medians["import flash"] - torch_s
    full = medians["import flash; flash.Trainer"] - torch_s
    print(f"import flash                - import torch: {bare:+.3f} s")
    print(f"import flash; flash.Trainer - import torch: {full:+.3f} s "
          f"(target <= {TARGET_S} s: {'met' if max(bare, full) <= TARGET_S else 'NOT met'})")
    print("modules flash.Trainer imports after torch, slowest first (python -X importtime, cumulative):")
    slowest = flash_on_top_of_torch()
    for micros, name in slowest:
        print(f"  {micros / 1e6:7.3f} s  {name}")
    return {"python": sys.version.split()[0], "repeats": repeats, "median_s": medians, "times_s": times,
            "loads_torch": loads_torch, "flash_over_torch_s": bare, "trainer_over_torch_s": full,
            "target_met": max(bare, full) <= TARGET_S, "slowest_after_torch_s": {n: m / 1e6 for m, n in slowest}}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    add_json_argument(parser)
    args = parser.parse_args(argv)
    result = run(args.repeats)
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
