"""``flash data inspect`` at scale against the one-pass loop a user would write (PIL open + verify per file, in
the same process, alternating), on a folder of small JPEGs with a few corrupt files among them (issue 31, item 6).

Timed: flash's whole command in-process (``flash.cli.main(["data", "inspect", folder])``: detecting the task,
walking the folder, reading, hashing and measuring each file, the checks, the summary) against the plain loop
(``os.walk``, then ``PIL.Image.open`` + size + mode + ``verify`` per file, corrupt files caught), on a warm page
cache; the median of the repeats. Memory: the peak RSS of ``python -m flash data inspect`` in a fresh process
(``RUSAGE_CHILDREN`` of a wrapper process that runs only it), with the plain loop's beside it. Checked: both
find the same corrupt files and count the same images, and the fresh process never imported torch.

Measured 2026-12-07 (2 shared CPU cores, busy: load average 10-13): 100k 32x32 JPEGs, paired ratios 0.69-1.31
(median 1.19; the medians of the times 0.69-0.81), peak RSS 68 MB (the loop's process 33 MB), torch not imported;
20k, 5 repeats: 0.94-1.16 (median 1.06), 43 MB. Main before (each file read three times, torch imported to check
suffixes), the same script at 20k: 3.0-3.7x and 659 MB.

Usage:
    python benchmarks/scale_inspect.py            # 100k images (generation takes a minute or two)
    python benchmarks/scale_inspect.py --quick    # 1k images, seconds
    python benchmarks/scale_inspect.py --json out.json   # the numbers also as JSON (what ``run`` returns)
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
from _common import add_json_argument, write_json  # noqa: E402 - beside this script

BAD = 3  # corrupt files among the images: both sides must name them

# Run in a fresh interpreter: flash's command on the folder; reports its exit code and whether torch was imported.
_FLASH_PROBE = """
import json, sys
from flash.cli import main
code = main(["data", "inspect", sys.argv[1]])
print(json.dumps({"code": code, "torch": "torch" in sys.modules, "torchvision": "torchvision" in sys.modules}))
"""
# The wrapper: runs one command as its only child and prints that child's peak RSS in bytes (Linux: KiB).
_PEAK_RSS = """
import resource, subprocess, sys
child = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(child.stdout.strip().splitlines()[-1] if child.stdout.strip() else "{}")
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024)
"""


def write_images(root: str, count: int, *, classes: int = 10, size: int = 32) -> list[str]:
    """``count`` distinct tiny JPEGs in ``root/class_k/``, then ``BAD`` corrupt ones; returns the corrupt paths."""
    from PIL import Image

    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (classes, size, size, 3), dtype=np.uint8)
    for k in range(classes):
        os.makedirs(os.path.join(root, f"class_{k}"), exist_ok=True)
    for i in range(count):
        k = i % classes
        pixels = base[k].copy()
        pixels[0, 0] = (i & 255, (i >> 8) & 255, (i >> 16) & 255)  # every file distinct: no duplicates to report
        Image.fromarray(pixels).save(os.path.join(root, f"class_{k}", f"{i:06d}.jpg"), quality=80)
    bad = [os.path.join(root, f"class_{k % classes}", f"bad_{k}.jpg") for k in range(BAD)]
    for path in bad:
        Path(path).write_bytes(b"\xff\xd8\xff\xe0 not a JPEG")
    return bad


def plain_loop(root: str) -> dict[str, Any]:
    """What a user would write: walk, then open + verify each image once; sizes, modes, classes, corrupt files."""
    from PIL import Image

    sizes: Counter = Counter()
    modes: Counter = Counter()
    classes: Counter = Counter()
    bad = []
    for folder, subfolders, files in os.walk(root):
        subfolders.sort()
        for name in sorted(files):
            path = os.path.join(folder, name)
            classes[os.path.basename(folder)] += 1
            try:
                with Image.open(path) as image:
                    sizes[image.size] += 1
                    modes[image.mode] += 1
                    image.verify()
            except Exception:  # noqa: BLE001 - PIL raises many types for broken files
                bad.append(path)
    return {"images": sum(classes.values()), "bad": bad, "sizes": sizes, "modes": modes}


def flash_inspect(root: str) -> tuple[int, str]:
    from flash.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(["data", "inspect", root, "--no-progress"])
    return code, out.getvalue()


def _timed(fn: Any, root: str) -> tuple[float, Any]:
    gc.collect()
    start = time.perf_counter()
    result = fn(root)
    return time.perf_counter() - start, result


def peak_rss(args: list[str]) -> tuple[int, dict]:
    """Peak RSS in bytes of ``args`` run alone in a fresh process, and the JSON it printed last."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    run = subprocess.run([sys.executable, "-c", _PEAK_RSS, *args], capture_output=True, text=True, check=True,
                         env=env)
    printed, rss = run.stdout.strip().splitlines()[-2:]
    return int(rss), json.loads(printed)


_PLAIN_SCRIPT = f"""
import json, sys
sys.path.insert(0, {str(Path(__file__).resolve().parent)!r})
from scale_inspect import plain_loop
print(json.dumps({{"images": plain_loop(sys.argv[1])["images"]}}))
"""


def run(*, quick: bool = False, count: int | None = None, repeats: int | None = None) -> dict[str, Any]:
    """Inspect ``count`` generated images ``repeats`` times beside the plain loop; return the timings and checks."""
    count = count or (1_000 if quick else 100_000)
    repeats = repeats or (2 if quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "train")
        bad = write_images(root, count)
        plain_loop(root), flash_inspect(root)  # warm: page cache, imports
        plain_times, flash_times = [], []
        for _ in range(repeats):
            seconds, plain = _timed(plain_loop, root)
            plain_times.append(seconds)
            seconds, (code, out) = _timed(flash_inspect, root)
            flash_times.append(seconds)
        flash_rss, probe = peak_rss([sys.executable, "-c", _FLASH_PROBE, root])
        plain_rss, _ = peak_rss([sys.executable, "-c", _PLAIN_SCRIPT, root])
        result = {
            "images": count,
            "plain_loop_s": statistics.median(plain_times),
            "flash_s": statistics.median(flash_times),
            "ratios": [round(f / p, 3) for f, p in zip(flash_times, plain_times)],  # each repeat's, for the spread
            "flash_peak_rss_mb": flash_rss / 2**20,
            "plain_loop_peak_rss_mb": plain_rss / 2**20,
            "flash_imported_torch": bool(probe.get("torch") or probe.get("torchvision")),
            "flash_exit_code": code,  # 1: the corrupt files would stop training
            "same_bad_files": sorted(bad) == sorted(plain["bad"]) and all(f"'{path}'" in out for path in bad),
            "same_counts": plain["images"] == count + BAD and f"image sizes: {count} values" in out,
        }
    result["ratio"] = statistics.median(result["ratios"])  # paired repeats: robust to a load that drifts
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1k images instead of 100k")
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    add_json_argument(parser)
    args = parser.parse_args()
    result = run(quick=args.quick, count=args.count, repeats=args.repeats)
    for key, value in result.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    print(f"inspect, ratio flash/plain loop: {result['ratio']:.2f}x (target <= 1.5); "
          f"peak RSS {result['flash_peak_rss_mb']:.0f} MB (target <= 250)")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
