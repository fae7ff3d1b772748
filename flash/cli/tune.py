"""``flash tune TASK``: search learning rate, batch size, backbone, finetuning strategy and epochs with Optuna.

The data and the fixed arguments are given as for ``flash train`` (``--data``, ``--config``, ``--model.*``,
``--trainer.*``); the search writes ``<run_dir>/best.yaml``, which ``flash train TASK --config`` reads.
Running the same command again continues the study; ``--jobs N`` runs N worker processes on this machine,
and the same command with one ``--storage`` URL on several machines shares one study.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from typing import Any

from flash.cli.argtypes import at_least
from flash.errors import ConfigurationError

EXAMPLE = "flash tune <task> --data data/train --trials 20 --time 30m --backbones resnet18,resnet34"


def add_parser(commands: Any) -> None:
    """The ``tune`` sub-command's arguments (``--model.*`` etc. are parsed like ``flash train``'s)."""
    tune = commands.add_parser(
        "tune", help="search hyper-parameters with Optuna and write best.yaml for `flash train --config`",
        description="Search learning rate, batch size, backbone, finetuning strategy and epochs. Fixed arguments "
                    "as for `flash train` (--data, --config, --model.NAME, --trainer.NAME). A range is LOW:HIGH, a "
                    "choice A,B,C; one value keeps a setting fixed. Rerun the command to continue the study.",
        epilog=f"Example:\n  {EXAMPLE}\n  then: flash train <task> --data data/train "
               "--config flash_tune/<task>/best.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    tune.add_argument("task", help="the task to tune (see `flash list tasks`)")
    tune.add_argument("--data", help="a folder or file, as for `flash train` (default: the built-in demo data)")
    tune.add_argument("--config", help="a YAML file with the fixed model:, data:, trainer:, finetune: arguments")
    tune.add_argument("--trials", type=at_least(1), default=20,
                      help="finished trials the study should hold (default 20)")
    tune.add_argument("--time", help="time budget, e.g. 30m, 2h, 90s: no trial starts after it")
    tune.add_argument("--jobs", type=at_least(1), default=1,
                      help="parallel trial processes on this machine (default 1)")
    tune.add_argument("--run_dir", help="where the study, best.yaml and the plots go (default flash_tune/<task>)")
    tune.add_argument("--storage", help="an Optuna storage URL shared by several machines (default: SQLite in run_dir)")
    tune.add_argument("--study", help="the study's name (default: the task's name)")
    tune.add_argument("--lr", default="1e-5:1e-1", help="learning-rate range LOW:HIGH, log scale (default 1e-5:1e-1)")
    tune.add_argument("--batch_sizes", default="8,16,32", help="batch sizes to try (default 8,16,32)")
    tune.add_argument("--backbones", help="backbones to try, e.g. resnet18,resnet34 (default: the configured one)")
    tune.add_argument("--strategies", help="finetuning strategies, e.g. no_freeze,freeze,freeze_unfreeze:1")
    tune.add_argument("--epochs", default="1:5", help="epochs range LOW:HIGH (default 1:5)")
    tune.add_argument("--metric", help="the validation metric to optimise (default: the task's, e.g. val_accuracy)")
    tune.add_argument("--direction", choices=("minimize", "maximize"), help="default: from the metric")
    tune.add_argument("--seed", type=int, help="seed of the sampler (workers use seed + 1, seed + 2, ...)")
    tune.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)  # a --jobs child: no summary


# SearchSpace field -> (flag, how its text is read)
_SPACE_FLAGS = {"learning_rate": ("lr", "range", float), "batch_sizes": ("batch_sizes", "list", int),
                "backbones": ("backbones", "list", str), "strategies": ("strategies", "list", str),
                "epochs": ("epochs", "range", int)}


def _parse(text: str, kind: str, cast: type, *, flag: str) -> tuple | list:
    """``"LOW:HIGH"`` (or one value) -> ``(low, high)``; ``"A,B,C"`` -> ``[a, b, c]``; the flag named if unreadable."""
    try:
        if kind == "range":
            low, _, high = str(text).partition(":")
            return (cast(low), cast(high or low))
        return [cast(v.strip()) for v in str(text).split(",") if v.strip()]
    except ValueError:
        form = "LOW:HIGH or one value" if kind == "range" else "a comma-separated list"
        raise ConfigurationError(f"--{flag} takes {form} of {cast.__name__} values. "
                                 f"Received: --{flag} {text}") from None


def _space(args: argparse.Namespace):
    """The search space from the flags; a bad value is named as the user typed it (``--lr 1:0.1``)."""
    from flash.tune.space import SearchSpace, field_problem

    values: dict[str, Any] = {}
    for field, (flag, kind, cast) in _SPACE_FLAGS.items():
        text = getattr(args, flag)
        values[field] = None if text is None else _parse(text, kind, cast, flag=flag)
        problem = field_problem(field, values[field])
        if problem:
            raise ConfigurationError(f"--{flag} {text}: {problem}. Received: --{flag} {text}")
    return SearchSpace(**values)


def _check_flags(args: argparse.Namespace) -> None:
    """What can be checked before any data or model is built: the time budget, the run folder, the storage URL."""
    from flash.cli.common import check_writable
    from flash.tune.study import parse_duration

    try:
        parse_duration(args.time)
    except ConfigurationError:
        raise ConfigurationError(f"--time takes a budget like 30m, 1h30m, 90s or a number of seconds. "
                                 f"Received: --time {args.time}") from None
    if args.run_dir:
        check_writable(args.run_dir, flag="--run_dir", folder=True)
    if args.storage:
        _check_storage(args.storage)


def _check_storage(url: str) -> None:
    try:
        from sqlalchemy.engine import make_url  # optuna's storage layer
    except ImportError:
        return
    try:
        make_url(url)
    except Exception as err:  # sqlalchemy's ArgumentError
        raise ConfigurationError(f"--storage {url!r} is not a database URL ({err}); e.g. sqlite:///study.db or "
                                 f"postgresql://user@host/db. Received: --storage {url}") from None


def _spawn_workers(args: argparse.Namespace, extra: list[str]) -> list[subprocess.Popen]:
    """``--jobs N``: N - 1 more processes running this search on the same storage."""
    keep = ("data", "config", "trials", "time", "run_dir", "storage", "study", "lr", "batch_sizes", "backbones",
            "strategies", "epochs", "metric", "direction")
    base = [sys.executable, "-m", "flash", "tune", args.task, "--worker"]
    for name in keep:
        if getattr(args, name) is not None:
            base += [f"--{name}", str(getattr(args, name))]
    workers = []
    for i in range(1, args.jobs):
        seed = ["--seed", str(args.seed + i)] if args.seed is not None else []
        workers.append(subprocess.Popen([*base, *seed, *extra]))
    return workers


def _fixed(entry: Any, config: dict, data: str | None) -> dict[str, Any]:
    """The data and fixed arguments, built the way ``flash train`` builds them."""
    from flash.cli.train import build_datamodule, model_kwargs  # the one way `flash train` builds them

    datamodule, on_demo = build_datamodule(entry, config, data)
    model_cls = entry.load("model")
    strategy = config["finetune"].get("strategy", "no_freeze")
    return {"model": model_cls, "datamodule": datamodule,
            "model_kwargs": model_kwargs(model_cls, datamodule, config, demo=entry.demo.model if on_demo else {}),
            "trainer_kwargs": {**(entry.demo.trainer if on_demo else {}), **config["trainer"]},
            "strategy": tuple(strategy) if isinstance(strategy, list) else strategy}


def _print_summary(result: Any, *, train_command: str) -> int:
    print(result.table)
    if result.best_config is None:
        print("No trial completed (see the table); nothing to train with yet.")
        return 1
    print(f"Best: {result.metric}={result.best_value:.4g} with {result.best_params}")
    print(f"Best configuration: {result.best_config}")
    print(f"Train with it: {train_command.format(config=result.best_config)}")
    if result.plot:
        print(f"Plot of the search: {result.plot}")
    return 0


def run_tune(args: argparse.Namespace, extra: list[str]) -> int:
    from pathlib import Path

    from flash.cli.config import load_config, merge, parse_flags
    from flash.tasks import get_task
    from flash.tune.study import search, summarise

    entry = get_task(args.task)
    config = merge(load_config(args.config), parse_flags(extra))
    space, run_dir = _space(args), Path(args.run_dir or Path("flash_tune") / entry.name)
    _check_flags(args)
    train_command = f"flash train {entry.name}{f' --data {args.data}' if args.data else ''} --config {{config}}"
    fixed = _fixed(entry, config, args.data)
    workers = _spawn_workers(args, extra) if args.jobs > 1 and not args.worker else []
    try:
        result = search(space=space, trials=args.trials, timeout=args.time, run_dir=run_dir, metric=args.metric,
                        direction=args.direction, storage=args.storage, study_name=args.study or entry.name,
                        seed=args.seed, base_config=config, command=train_command, **fixed)
    except BaseException:
        for worker in workers:  # they would fail the same way, or outlive an interrupted search
            worker.terminate()
        raise
    failed = [w for w in workers if w.wait() != 0]
    if args.worker:
        return 0
    if workers:  # the table and best.yaml with every worker's trials
        result = summarise(result.study, metric=result.metric, run_dir=run_dir, space=space, base_config=config,
                           command=train_command)
    code = _print_summary(result, train_command=train_command)
    if failed:
        print(f"{len(failed)} worker process(es) failed; their errors are above.", file=sys.stderr)
    return 1 if failed else code
