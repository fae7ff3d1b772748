"""Does the learning-rate finder help on the built-in demos? Train each demo twice with the same seed and epochs:
once with its default learning rate, once with the finder's suggestion (``flash train TASK --lr auto``), and
compare the validation metric. Also prints what the batch-size finder chooses on this machine.

Bounded runs: each demo's own epoch count (image 4, speech 3), text 2 epochs; the detection demo (10 epochs
of a MobileNetV3-FPN at 128 px) is left out as too slow for a CPU check. One seed per run, so differences of a
point or two are within the seed-to-seed spread.

Results: benchmarks/README.md.

Usage:
    python benchmarks/lr_finder_demo.py                        # image, text, speech (minutes on 2 CPU cores)
    python benchmarks/lr_finder_demo.py --tasks image_classification
    python benchmarks/lr_finder_demo.py --json out.json        # the numbers also as JSON (what ``main`` returns)
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch
from _common import add_json_argument, write_json  # noqa: E402 - beside this script

import flash
from flash.tune.tuner import Tuner

DEMOS = {  # task -> (demo module, model class path, epochs, metric, higher is better)
    "image_classification": ("flash.image.classification.demo", "flash.image:ImageClassifier", 4, "val_accuracy", True),
    "text_classification": ("flash.text.classification.demo", "flash.text:TextClassifier", 2, "val_accuracy", True),
    "speech_recognition": ("flash.audio.speech_recognition.demo", "flash.audio:SpeechRecognizer", 3, "val_wer", False),
}


def _build(task: str, learning_rate: float | None):
    import importlib

    module_name, class_path, *_ = DEMOS[task]
    demo = importlib.import_module(module_name)
    module, _, name = class_path.partition(":")
    model_cls = getattr(importlib.import_module(module), name)
    kwargs = demo.DEMO_MODEL if isinstance(demo.DEMO_MODEL, dict) else {"backbone": demo.DEMO_MODEL}
    kwargs = dict(kwargs)
    datamodule = demo.demo_datamodule()
    flash.seed_everything(0)
    has_labels = getattr(datamodule, "labels", None) and task != "speech_recognition"
    labels = {"labels": datamodule.labels} if has_labels else {}
    if learning_rate is not None:
        kwargs["learning_rate"] = learning_rate
    return model_cls(**kwargs, **labels), datamodule


def _trainer(root: str, epochs: int) -> flash.Trainer:
    return flash.Trainer(max_epochs=epochs, default_root_dir=root, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False)


def compare(task: str) -> dict:
    _, _, epochs, metric, _ = DEMOS[task]
    with tempfile.TemporaryDirectory() as root:
        model, datamodule = _build(task, None)
        default_lr = model.learning_rate
        started = time.perf_counter()
        trainer = _trainer(root, epochs)
        trainer.fit(model, datamodule=datamodule)
        baseline = float(trainer.callback_metrics[metric])
        model, datamodule = _build(task, None)
        tuner_trainer = _trainer(root, epochs)
        tuner = Tuner(tuner_trainer)
        found = tuner.lr_find(model, datamodule=datamodule, plot_path=f"{root}/lr_find.png")  # restores the RNG too
        tuner_trainer.fit(model, datamodule=datamodule)
        tuned = float(tuner_trainer.callback_metrics[metric])
        batch = Tuner(_trainer(root, 1)).scale_batch_size(model, datamodule=datamodule)
    print(f"{task}: default lr {default_lr:g} -> {metric} {baseline:.4f}; finder suggests {found.suggestion:.3g} "
          f"-> {metric} {tuned:.4f} ({epochs} epochs); batch-size finder: {batch.batch_size} "
          f"(largest within budget {batch.largest}); {time.perf_counter() - started:.0f} s", flush=True)
    return {"epochs": epochs, "metric": metric, "default_lr": default_lr, "default_metric": baseline,
            "suggested_lr": found.suggestion, "suggested_metric": tuned, "batch_size": batch.batch_size,
            "largest_batch_size": batch.largest, "seconds": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", default=",".join(DEMOS), help="comma-separated demo tasks")
    parser.add_argument("--threads", type=int, default=1)
    add_json_argument(parser)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result = {task: compare(task) for task in args.tasks.split(",")}
    write_json(args.json, result)
    return result


if __name__ == "__main__":
    main()
