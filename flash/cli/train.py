"""``flash train TASK``: build the data (detected from ``--data``, or the task's demo), the model and the Trainer
from flags and YAML, fine-tune, save the checkpoint (imported only once the command runs).

Everything a user types is checked before training starts: the data, the flags (against the real signatures),
where the checkpoint goes, and that a ``--resume`` checkpoint holds the task and backbone this run builds.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from flash.cli.common import check_writable
from flash.cli.config import check_kwargs, load_config, merge, parse_flags
from flash.cli.resume import choose_seed, find_resume_checkpoint, resume_command, run_folder_logger
from flash.core.entry import TaskEntry
from flash.errors import CheckpointError, ConfigurationError, DataError, FlashError
from flash.tasks import get_task, task_for_model_class
from flash.tune.auto import auto_flags, tune_before_fit


def _detect(entry: TaskEntry, data_path: str, *, val_split: float):
    path = Path(data_path)
    if not path.exists():
        raise DataError(f"--data {data_path!r} does not exist. Give a folder or a CSV/JSON/Parquet file.")
    if path.is_file() and path.stat().st_size == 0:
        raise DataError(f"--data '{data_path}' is an empty file. Expected: {entry.expects}. "
                        f"Received: --data {data_path}")
    detected = entry.recognise(path, val_split=val_split)
    if detected is None:
        raise DataError(f"Cannot tell what kind of {entry.name} data '{path}' holds. Expected: {entry.expects}. "
                        f"Or call the from_* constructor with --data.* flags. Received: --data {data_path}")
    return detected


def build(fn: Callable, kwargs: dict[str, Any], *, flag: str) -> Any:
    """``fn(**kwargs)`` for arguments given as ``--{flag}.*``: a value of the wrong type or range is a wrong
    argument (exit 2) naming the flags, not a traceback from deep inside."""
    try:
        return fn(**kwargs)
    except FlashError:
        raise
    except (TypeError, ValueError) as err:
        owner = getattr(fn, "__qualname__", fn)
        given = " ".join(f"--{flag}.{k} {v!r}" for k, v in kwargs.items()) or "(none)"
        raise ConfigurationError(f"{owner} rejected the --{flag}.* arguments: {type(err).__name__}: {err}. "
                                 f"Received: {given}") from err


def build_datamodule(entry: TaskEntry, config: dict, data_path: str | None) -> tuple[Any, bool]:
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
        return build(entry.load_demo_datamodule, kwargs, flag="data"), True
    method = getattr(data_cls, constructor, None)
    if method is None:
        raise ConfigurationError(f"{data_cls.__name__} has no {constructor}(). Received: --data.from {constructor}")
    check_kwargs(method, kwargs, flag="data")
    return build(method, kwargs, flag="data"), False


def model_kwargs(model_cls, datamodule, config: dict, *, demo: Mapping[str, Any]) -> dict[str, Any]:
    """The model's arguments: the demo's, then ``--model.*``, then labels/num_classes from the data."""
    kwargs = {**demo, **config["model"]}
    params = inspect.signature(model_cls).parameters
    for name in ("labels", "num_classes"):
        value = getattr(datamodule, name, None)
        if name in params and name not in kwargs and value is not None:
            kwargs[name] = value
    check_kwargs(model_cls, kwargs, flag="model")
    return kwargs


def _resume_and_seed(args, config: dict) -> tuple[Path | None, dict, int]:
    """The checkpoint ``--resume`` continues from (None: a new run), its contents, and the seed: ``--seed``,
    else the resumed run's, else 0."""
    resume, checkpoint = None, {}
    if args.resume is not None:
        from flash.engine.checkpoint import load_checkpoint

        resume = find_resume_checkpoint(args.resume, root=Path(config["trainer"].get("default_root_dir") or "."))
        if resume is None:
            print("Resume: no stopped run found; starting a new one.")
        else:
            checkpoint = load_checkpoint(resume)
            print(f"Resume: continuing from {resume}")
    seed = choose_seed(args.seed, recorded=checkpoint.get("seed"))
    print(f"Seed: {seed}" + (" (--seed random)" if args.seed == "random" else ""))
    return resume, checkpoint, seed


def _shape_mismatches(checkpoint: dict, model: Any) -> list[str]:
    theirs = checkpoint.get("state_dict") or {}
    return [f"{name} {tuple(theirs[name].shape)} vs {tuple(value.shape)}" for name, value in model.state_dict().items()
            if name in theirs and hasattr(theirs[name], "shape") and tuple(theirs[name].shape) != tuple(value.shape)]


def check_resume_fits(path: Path, checkpoint: dict, entry: TaskEntry, model: Any) -> None:
    """Raise a CheckpointError unless ``checkpoint`` holds this task and backbone, with weights of this model's
    shapes: say what it holds, what this run builds, and how to go on."""
    info = checkpoint.get("task") or {}
    held = task_for_model_class(info.get("class", ""))
    held_name = held.name if held is not None else (info.get("class") or "no task recorded")
    held_backbone = (info.get("hyper_parameters") or {}).get("backbone")
    our_backbone = (getattr(model, "hparams", None) or {}).get("backbone")
    problem = ""
    ours = f"{entry.name} with backbone {our_backbone!r}"
    if held is not entry:
        problem = f"holds a run of {held_name} (backbone {held_backbone!r}), but this run builds {ours}"
    elif held_backbone != our_backbone:
        problem = f"holds a run of {held_name} with backbone {held_backbone!r}, but this run builds {ours}"
    elif shapes := _shape_mismatches(checkpoint, model):
        problem = (f"holds weights of other shapes than this run's model, {ours} ({len(shapes)} differ, e.g. "
                   f"{shapes[0]}: another number of classes or other --model.* settings?)")
    if not problem:
        return
    same = f"flash train {held_name} ... --resume {path}" if held is not None else "the run's own settings"
    raise CheckpointError(f"--resume '{path}' {problem}. To start a new run, drop "
                          f"--resume; to continue that run, give its task and settings: {same}. "
                          f"Received: --resume {path}")


def _fit(trainer: Any, model: Any, datamodule: Any, *, strategy: Any, resume: Path | None, finetune: dict) -> None:
    try:
        trainer.finetune(model, datamodule=datamodule, strategy=strategy, ckpt_path=resume, **finetune)
    except RuntimeError as err:
        if resume is None or "state_dict" not in str(err):
            raise
        first = str(err).splitlines()[0]
        raise CheckpointError(f"--resume '{resume}' holds weights that do not fit this run's model ({first}). To "
                              f"start a new run, drop --resume; to continue that run, give its task and --model.* "
                              f"settings. Received: --resume {resume}") from err


def run_train(args, extra: list[str]) -> int:
    entry = get_task(args.task)
    config = merge(load_config(args.config), parse_flags(extra))
    auto = auto_flags(args, config)  # flash.tune: --lr / --batch_size, numbers or "auto"
    if args.print_config:
        print(yaml.safe_dump({k: v for k, v in config.items() if v}, sort_keys=False) or "{}")
        return 0
    if args.checkpoint:
        check_writable(args.checkpoint, flag="--checkpoint")  # before training, not after
    from flash.engine.seed import seed_everything
    from flash.engine.trainer import Trainer

    resume, resumed, seed = _resume_and_seed(args, config)
    seed_everything(seed)  # before the data split and the model's initial weights
    datamodule, on_demo = build_datamodule(entry, config, args.data)
    model_cls = entry.load("model")
    model = build(model_cls, model_kwargs(model_cls, datamodule, config, demo=entry.demo.model if on_demo else {}),
                  flag="model")
    if resume is not None:
        check_resume_fits(resume, resumed, entry, model)
    trainer_kwargs = {**(entry.demo.trainer if on_demo else {}), **config["trainer"]}
    check_kwargs(Trainer, trainer_kwargs, flag="trainer")
    if resume is not None and "logger" not in trainer_kwargs:  # continue in the stopped run's folder
        trainer_kwargs["logger"] = run_folder_logger(resume) or True
    trainer = build(Trainer, trainer_kwargs, flag="trainer")
    trainer.resume_hint = resume_command(args, extra)  # what a signal's stop message tells to run
    finetune = dict(config["finetune"])
    strategy = finetune.pop("strategy", "no_freeze")
    if isinstance(strategy, list):
        strategy = tuple(strategy)
    if resume is None:  # a resumed run keeps the settings it was started with
        tune_before_fit(auto, trainer, model, datamodule=datamodule, strategy=strategy)  # flash.tune: the finders
    _fit(trainer, model, datamodule, strategy=strategy, resume=resume, finetune=finetune)
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
