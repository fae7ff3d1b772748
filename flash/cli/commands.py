"""What each ``flash`` sub-command does (imported only once a command runs)."""

from __future__ import annotations

import csv
import glob
import inspect
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from flash.cli.config import check_kwargs, load_config, merge, parse_flags
from flash.cli.resume import choose_seed, find_resume_checkpoint, resume_command, run_folder_logger
from flash.core.entry import TaskEntry
from flash.errors import CheckpointError, ConfigurationError, DataError
from flash.tasks import ENTRIES, get_task, task_for_model_class
from flash.tune.auto import auto_flags, tune_before_fit


# ---------------------------------------------------------------------------------------- train
def _detect(entry: TaskEntry, data_path: str, *, val_split: float):
    path = Path(data_path)
    if not path.exists():
        raise DataError(f"--data {data_path!r} does not exist. Give a folder or a CSV/JSON/Parquet file.")
    detected = entry.recognise(path, val_split=val_split)
    if detected is None:
        raise DataError(f"Cannot tell what kind of {entry.name} data '{path}' holds. Expected: {entry.expects}. "
                        f"Or call the from_* constructor with --data.* flags. Received: --data {data_path}")
    return detected


def _build_datamodule(entry: TaskEntry, config: dict, data_path: str | None) -> tuple[Any, bool]:
    """``(datamodule, is_demo)`` from ``--data`` (detected), ``--data.from`` or the task's demo."""
    data_cls = entry.load("data")
    kwargs = dict(config["data"])
    constructor = kwargs.pop("from", None)
    if data_path:
        detected = _detect(entry, data_path, val_split=kwargs.pop("val_split", 0.2))
        constructor = constructor or detected.constructor
        kwargs = {**detected.kwargs, **kwargs}
        print(f"Data: {data_path} looks like {detected.description}; using {data_cls.__name__}.{constructor}(...).")
    elif constructor:
        print(f"Data: {data_cls.__name__}.{constructor}(...)")
    else:
        print(f"Data: no --data given, training on the built-in {entry.name} demo data set.")
        return entry.load_demo_datamodule(**kwargs), True
    method = getattr(data_cls, constructor, None)
    if method is None:
        raise ConfigurationError(f"{data_cls.__name__} has no {constructor}(). Received: --data.from {constructor}")
    check_kwargs(method, kwargs, flag="data")
    return method(**kwargs), False


def _model_kwargs(model_cls, datamodule, config: dict, *, demo: Mapping[str, Any]) -> dict[str, Any]:
    kwargs = {**demo, **config["model"]}
    params = inspect.signature(model_cls).parameters
    for name in ("labels", "num_classes"):
        value = getattr(datamodule, name, None)
        if name in params and name not in kwargs and value is not None:
            kwargs[name] = value
    check_kwargs(model_cls, kwargs, flag="model")
    return kwargs


def _resume_and_seed(args, config: dict) -> tuple[Path | None, int]:
    """The checkpoint ``--resume`` continues from (None: a new run) and the seed: ``--seed``, else the
    resumed run's, else 0."""
    resume, recorded = None, None
    if args.resume is not None:
        from flash.engine.checkpoint import load_checkpoint

        resume = find_resume_checkpoint(args.resume, root=Path(config["trainer"].get("default_root_dir") or "."))
        if resume is None:
            print("Resume: no stopped run found; starting a new one.")
        else:
            recorded = load_checkpoint(resume).get("seed")
            print(f"Resume: continuing from {resume}")
    seed = choose_seed(args.seed, recorded=recorded)
    print(f"Seed: {seed}" + (" (--seed random)" if args.seed == "random" else ""))
    return resume, seed


def run_train(args, extra: list[str]) -> int:
    entry = get_task(args.task)
    config = merge(load_config(args.config), parse_flags(extra))
    auto = auto_flags(args, config)  # flash.tune: --lr / --batch_size, numbers or "auto"
    if args.print_config:
        print(yaml.safe_dump({k: v for k, v in config.items() if v}, sort_keys=False) or "{}")
        return 0
    import flash

    resume, seed = _resume_and_seed(args, config)
    flash.seed_everything(seed)  # before the data split and the model's initial weights
    datamodule, on_demo = _build_datamodule(entry, config, args.data)
    model_cls = entry.load("model")
    model = model_cls(**_model_kwargs(model_cls, datamodule, config, demo=entry.demo.model if on_demo else {}))
    trainer_kwargs = {**(entry.demo.trainer if on_demo else {}), **config["trainer"]}
    check_kwargs(flash.Trainer, trainer_kwargs, flag="trainer")
    if resume is not None and "logger" not in trainer_kwargs:  # continue in the stopped run's folder
        trainer_kwargs["logger"] = run_folder_logger(resume) or True
    trainer = flash.Trainer(**trainer_kwargs)
    trainer.resume_hint = resume_command(args, extra)  # what a signal's stop message tells to run
    finetune = dict(config["finetune"])
    strategy = finetune.pop("strategy", "no_freeze")
    if isinstance(strategy, list):
        strategy = tuple(strategy)
    if resume is None:  # a resumed run keeps the settings it was started with
        tune_before_fit(auto, trainer, model, datamodule=datamodule, strategy=strategy)  # flash.tune: the finders
    trainer.finetune(model, datamodule=datamodule, strategy=strategy, ckpt_path=resume, **finetune)
    checkpoint = Path(args.checkpoint) if args.checkpoint else Path(trainer.log_dir) / f"{entry.name}_model.pt"
    trainer.save_checkpoint(checkpoint, weights_only=True)  # for prediction: no optimizer state (checkpoints/ has it)
    metrics = {k: v for k, v in sorted(trainer.callback_metrics.items()) if k.startswith("val_")}
    if metrics:
        print("Validation: " + ", ".join(f"{k}={v:.4f}" for k, v in metrics.items()))
    print(f"Checkpoint: {checkpoint}")
    if (report := Path(trainer.log_dir) / "report" / "index.html").is_file():
        print(f"Report: {report}")
    print(f"Logs: {trainer.log_dir}")
    print(f"Predict with: flash predict --checkpoint {checkpoint} <files or folder>")
    return 0


# ---------------------------------------------------------------------------------------- predict
def _load_task(path: str):
    from flash.core.download import local_file
    from flash.core.lightning_checkpoint import is_lightning_checkpoint, lightning_checkpoint_hint
    from flash.engine.checkpoint import load_checkpoint

    path = local_file(path)  # a URL is downloaded once to the cache
    if is_lightning_checkpoint(path):
        raise CheckpointError(lightning_checkpoint_hint(path))
    checkpoint = load_checkpoint(path)
    info = checkpoint.get("task") or {}
    entry = task_for_model_class(info.get("class", ""))
    if entry is None:
        recorded = info.get("class") or "no task recorded"
        raise CheckpointError(f"'{path}' is not a checkpoint of a flash task ({recorded}); "
                              f"`flash predict` knows: {', '.join(e.name for e in ENTRIES)}.")
    model_cls = entry.load("model")
    return entry, model_cls.load_from_checkpoint(path)


def _expand_inputs(entry: TaskEntry, inputs: list[str], column: str | None) -> list[Any]:
    extensions = entry.file_extensions()
    items: list[Any] = []
    for raw in inputs:
        path = Path(raw)
        if column:
            if not path.is_file():
                raise DataError(f"--column {column!r} needs a CSV file; '{raw}' does not exist.")
            with open(path, newline="", encoding="utf-8-sig") as handle:
                reader = csv.DictReader(handle)
                if column not in (reader.fieldnames or []):
                    raise DataError(f"'{raw}' has no column {column!r}; it has {reader.fieldnames}.")
                values = [row[column] for row in reader]
            if extensions:
                values = [str(p if Path(p).is_absolute() else path.parent / p) for p in values]
            items += values
        elif path.is_dir():
            found = sorted(str(p) for p in path.rglob("*")
                           if p.is_file() and (not extensions or p.suffix.lower() in extensions))
            if not found:
                raise DataError(f"No {entry.name} input files found in folder '{raw}'.")
            items += found
        elif any(ch in raw for ch in "*?[") and extensions:
            found = sorted(glob.glob(raw, recursive=True))
            if not found:
                raise DataError(f"The pattern {raw!r} matches no files.")
            items += found
        elif extensions and not path.is_file():
            raise DataError(f"Input file '{raw}' does not exist.")
        else:
            items.append(raw)
    if not items:
        raise DataError("No inputs given. Example: flash predict --checkpoint model.pt data/test/")
    return items


def _show(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def run_predict(args, extra: list[str]) -> int:
    if Path(args.checkpoint).suffix.lower() == ".onnx":
        from flash.cli.serve import run_predict_exported

        return run_predict_exported(args)
    import torch

    entry, model = _load_task(args.checkpoint)
    items = _expand_inputs(entry, args.inputs, args.column)
    device = torch.device(args.device)
    model = model.to(device)
    from flash.engine.precision import get_precision

    precision = get_precision(args.precision, device_type=device.type)
    precision.convert_module(model)
    kwargs = {"output": args.output_type} if args.output_type else {}
    results: list[Any] = []
    from tqdm.auto import tqdm

    show_bar = len(items) > args.batch_size and sys.stderr.isatty()
    with tqdm(total=len(items), disable=not show_bar, desc="Predicting") as bar, precision.autocast(device.type):
        for start in range(0, len(items), args.batch_size):
            chunk = items[start : start + args.batch_size]
            results += model.predict(chunk, batch_size=args.batch_size, **kwargs)
            bar.update(len(chunk))
    return _emit(args, items, results)


def _emit(args, items: list, results: list) -> int:
    """Write predictions to ``--output`` or print them, one ``input<TAB>prediction`` line each."""
    if args.output:
        _write(args.output, items, results)
        print(f"Wrote {len(results)} predictions to {args.output}")
    else:
        for item, result in zip(items, results):
            print(f"{item}\t{_show(result)}")
    return 0


def _write(path: str, items: list, results: list) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".json":
        out.write_text(json.dumps([{"input": i, "prediction": r} for i, r in zip(items, results)], indent=2))
    elif out.suffix.lower() == ".csv":
        with open(out, "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["input", "prediction"])
            writer.writerows([i, _show(r)] for i, r in zip(items, results))
    else:
        raise ConfigurationError(f"--output must end in .csv or .json. Received: --output {path}")


# ---------------------------------------------------------------------------------------- list
def run_list(args, extra: list[str]) -> int:
    if args.what == "tasks":
        for entry in ENTRIES:
            print(f"{entry.name:22s} {entry.summary}")
        return 0
    if not args.task:
        raise ConfigurationError(f"`flash list {args.what}` needs a task, e.g. "
                                 f"flash list {args.what} {ENTRIES[0].name}. "
                                 f"Tasks: {', '.join(e.name for e in ENTRIES)}.")
    model_cls = get_task(args.task).load("model")
    if args.what == "heads":
        if not hasattr(model_cls, "available_heads"):
            raise ConfigurationError(f"{args.task} has no heads to choose from.")
        names = model_cls.available_heads()
    else:
        if not hasattr(model_cls, "available_backbones"):
            raise ConfigurationError(f"{args.task} takes any compatible Hugging Face model id or local folder "
                                     "as backbone.")
        names = model_cls.available_backbones(args.pattern) if args.pattern else model_cls.available_backbones()
    for name in names if not isinstance(names, dict) else [f"{k}: {', '.join(v)}" for k, v in names.items()]:
        print(name)
    return 0


# ---------------------------------------------------------------------------------------- export
def run_export(args, extra: list[str]) -> int:
    from flash.cli.export import export

    entry, model = _load_task(args.checkpoint)
    suffix = ".onnx" if args.format == "onnx" else ".ts.pt"
    output = Path(args.output) if args.output else Path(args.checkpoint).with_suffix(suffix)
    export(model, output, fmt=args.format)
    print(f"Exported {entry.name} model to {output} ({args.format})")
    return 0
