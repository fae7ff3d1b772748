"""What the run report costs against the fit it reports on: the four built-in demos (``flash train <task>``).

For each task this fits the demo (its model, data and epochs, ``--epochs`` to shorten) with the default
report on, and reads from the ``ReportCallback`` in the same process: the fit's seconds, the seconds
spent keeping the validation outputs (every validation pass), and the seconds writing the report
(matplotlib figures, PIL grids, tables). Prints ``report / fit`` per task; the target is under 5 %.
Fewer epochs than the demo's make the ratio larger (the report is written once): an upper bound.

    python benchmarks/report_cost.py                       # the demos as `flash train` runs them
    python benchmarks/report_cost.py --epochs 1 --tasks image_classification speech_recognition
    python benchmarks/report_cost.py --quick               # seconds: every task runs, numbers meaningless
    python benchmarks/report_cost.py --json out.json       # the numbers also as JSON (what ``main`` returns)

Results: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import tempfile
import time
from pathlib import Path

from _common import add_json_argument, write_json  # noqa: E402 - beside this script

TASKS = ("image_classification", "text_classification", "speech_recognition", "object_detection")


def run(task: str, *, epochs: int | None, quick: bool, root: str) -> dict[str, float]:
    import flash
    from flash.reports import ReportCallback
    from flash.tasks import get_task

    entry = get_task(task)
    datamodule = entry.load_demo_datamodule()
    model_kwargs = dict(entry.demo.model)
    params = inspect.signature(entry.load("model")).parameters
    for name in ("labels", "num_classes"):
        if name in params and name not in model_kwargs and getattr(datamodule, name, None) is not None:
            model_kwargs[name] = getattr(datamodule, name)
    if task == "text_classification" and quick:
        model_kwargs = {"backbone": _tiny_bert(root), "labels": datamodule.labels}
    model = entry.load("model")(**model_kwargs)
    trainer_kwargs = {**entry.demo.trainer, "enable_progress_bar": False, "default_root_dir": root}
    if epochs is not None or quick:
        trainer_kwargs["max_epochs"] = 1 if quick else epochs
    if quick:
        trainer_kwargs.update(limit_train_batches=2, limit_val_batches=2, num_sanity_val_steps=0)
    trainer = flash.Trainer(**trainer_kwargs)
    start = time.perf_counter()
    trainer.fit(model, datamodule=datamodule)
    total = time.perf_counter() - start
    callback = next(c for c in trainer.callbacks if isinstance(c, ReportCallback))
    if callback.path is None or not callback.path.is_file():
        raise SystemExit(f"{task}: no report was written")
    return {"total": total, **callback.seconds}


def _tiny_bert(root: str) -> str:
    """The text tests' tiny BERT (the demo's MiniLM takes minutes per epoch on 2 cores): for --quick only."""
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

    from tests.text.helpers import build_tiny_bert

    return build_tiny_bert(Path(root) / "tiny_bert")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--epochs", type=int, default=None, help="override the demo's epochs")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="2 batches, 1 epoch: checks the script runs")
    add_json_argument(parser)
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    print(f"{'task':22} {'fit s':>8} {'collect s':>10} {'write s':>8} {'report/fit':>11}")
    result = {}
    for task in args.tasks:
        with tempfile.TemporaryDirectory() as root:
            seconds = run(task, epochs=args.epochs, quick=args.quick, root=root)
        ratio = (seconds["collect"] + seconds["write"]) / seconds["fit"]
        print(f"{task:22} {seconds['fit']:8.2f} {seconds['collect']:10.3f} {seconds['write']:8.2f} {ratio:10.1%}",
              flush=True)
        result[task] = {**seconds, "report_over_fit": ratio}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
