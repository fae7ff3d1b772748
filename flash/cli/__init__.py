"""The ``flash`` command: train, predict, list, export and inspect data, with zero code and no internet.

Examples (``flash list tasks`` names the tasks; the help texts are built from ``flash.tasks.ENTRIES``)::

    flash train <task>                                     # built-in demo data, offline
    flash train <task> --data data/train --trainer.max_epochs 3 --model.backbone resnet18
    flash predict --checkpoint <task>_model.pt data/test/
    flash list backbones <task> "resnet*"
    flash export --checkpoint <task>_model.pt --format onnx
    flash tune <task> --data data/train --trials 20 --time 30m
    flash data inspect data/ --task <task> --report inspect_report/
    flash serve --checkpoint <task>_model.pt --port 8000

``flash --help`` and ``flash <command> --help`` import no torch, so they answer at once.

Exit status: 0 done; 1 bad data or files (one line naming the file and the fix), or a bug in flash (one line;
``flash --debug ...`` shows the traceback); 2 a wrong argument (the usage, then one line); 130 interrupted.
No command prints a traceback without ``--debug`` (``tests/cli/test_bad_input.py`` holds the cases).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from flash._version import __version__
from flash.cli.argtypes import at_least, port
from flash.cli.failures import INTERRUPTED, report
from flash.cli.tune import add_parser as add_tune_parser
from flash.tasks import ENTRIES

#: The function that runs each command, ``run(args, extra) -> exit status``; imported only once a command runs.
RUNNERS = {"train": "flash.cli.train:run_train", "predict": "flash.cli.predict:run_predict",
           "list": "flash.cli.commands:run_list", "export": "flash.cli.export:run_export",
           "serve": "flash.cli.serve:run_serve", "tune": "flash.cli.tune:run_tune",
           "data": "flash.cli.inspect:run_inspect", "cache": "flash.cli.cache:run_cache"}



def _examples() -> dict[str, str]:
    first = ENTRIES[0].name
    return {
        "train": f"flash train {first} --data data/train --trainer.max_epochs 3 --model.backbone resnet18",
        "predict": f"flash predict --checkpoint {first}_model.pt data/test/ --output preds.csv",
        "list": f'flash list backbones {first} "resnet*"',
        "export": f"flash export --checkpoint {first}_model.pt --format onnx",
        "tune": f"flash tune {first} --data data/train --trials 20 --time 30m",
        "data": f"flash data inspect data/ --task {first} --report inspect_report/",
        "serve": f"flash serve --checkpoint {first}_model.pt --port 8000",
    }


def _parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``flash`` parser, and each command's own parser (for its usage line)."""
    examples = _examples()
    parser = argparse.ArgumentParser(
        prog="flash", description="Fine-tune and run deep-learning models without writing code.",
        epilog="Examples:\n  " + "\n  ".join(examples.values()), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="{train,predict,list,export,serve,tune,data,cache}")

    train = commands.add_parser(
        "train", help="train a task (on built-in demo data when no --data is given)",
        description="Train a task. Any argument of the task, its from_* data constructor or flash.Trainer can be "
                    "given as --model.NAME, --data.NAME, --trainer.NAME (or in a --config YAML with the same keys); "
                    "--finetune.strategy sets the finetuning strategy.",
        epilog=f"Example:\n  {examples['train']}\n  flash train <task> --data table.csv --print_config",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    train.add_argument("task", help=" | ".join(entry.name for entry in ENTRIES))
    train.add_argument("--data", help="a folder or file; its kind is detected and the right from_* is used")
    train.add_argument("--config", help="a YAML file with model:, data:, trainer:, finetune: sections")
    train.add_argument("--print_config", action="store_true", help="print the resolved configuration and exit")
    train.add_argument("--checkpoint", help="where to save the trained model (default: <log dir>/<task>_model.pt)")
    train.add_argument("--seed", help="seed of every random generator (default 0; 'random' picks one and prints it)")
    train.add_argument("--resume", nargs="?", const="latest", metavar="PATH",
                       help="continue a stopped run: alone, the newest run's last.ckpt (in its own folder); "
                            "or a checkpoint's path; 'auto': the newest if any, else a new run")
    train.add_argument("--lr", help="learning rate, or 'auto' to run the learning-rate finder first")
    train.add_argument("--batch_size", help="batch size, or 'auto' for the largest that fits, less a margin")

    predict = commands.add_parser(
        "predict", help="predict on files, folders, globs or a CSV column from a checkpoint",
        epilog=f"Example:\n  {examples['predict']}", formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    predict.add_argument("inputs", nargs="*",
                         help="files, folders, globs (texts for text tasks), or a CSV with --column")
    predict.add_argument("--checkpoint", required=True, help="a checkpoint saved by flash")
    predict.add_argument("--column", help="read inputs from this column of the CSV given as input")
    predict.add_argument("--output", help="write predictions to a .csv, .jsonl or .json file as they are computed "
                                          "(instead of printing them), or to FOLDER/ as files (tasks that write files)")
    predict.add_argument("--resume", action="store_true",
                         help="skip the inputs already in --output (.csv or .jsonl) and append the rest")
    predict.add_argument("--output-type", default=None, help="labels (default), probabilities, classes, logits, preds")
    predict.add_argument("--batch-size", type=at_least(1), default=8)
    predict.add_argument("--device", default="cpu", help="cpu | cuda | cuda:1 | mps")
    predict.add_argument("--precision", default="32-true", help="32-true | bf16-mixed | 16-mixed")

    lister = commands.add_parser("list", help="list tasks, backbones or heads",
                                 epilog=f"Example:\n  {examples['list']}\n  flash list heads <task>",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    lister.add_argument("what", choices=("tasks", "backbones", "heads"))
    lister.add_argument("task", nargs="?", help="the task (for backbones and heads)")
    lister.add_argument("pattern", nargs="?", help='a wildcard pattern, e.g. "resnet*"')

    export = commands.add_parser("export", help="export a checkpoint's inference model to ONNX or TorchScript",
                                 epilog=f"Example:\n  {examples['export']}",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("--checkpoint", required=True)
    export.add_argument("--format", choices=("onnx", "torchscript"), default="onnx")
    export.add_argument("--output", help="the output file (default: next to the checkpoint)")
    add_tune_parser(commands)

    example: dict[str, Any] = {
        "epilog": f"Example:\n  {examples['data']}",
        "formatter_class": argparse.RawDescriptionHelpFormatter,
    }
    data = commands.add_parser("data", help="look at a data set before training (flash data inspect PATH)", **example)
    inspect = data.add_subparsers(dest="action", required=True, metavar="{inspect}").add_parser(
        "inspect",
        help="formats, counts, sizes, unreadable files, duplicates, leaks; exit status 1 when training would fail",
        **example,
    )
    inspect.add_argument("path", help="a data folder or file; train/val/test sub-folders or files are splits")
    inspect.add_argument("--task", help="the task (default: guessed from the data)")
    inspect.add_argument("--report", help="also write the findings as HTML with pictures into this folder")
    inspect.add_argument(
        "--tokenizer", help="count text lengths in this Hugging Face tokenizer's tokens (default: words)"
    )
    inspect.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                         help="show files read so far on stderr (default: when stderr is a terminal)")
    _add_serve_parser(commands)
    cache = commands.add_parser("cache", help="manage what fits cache on disk (flash cache clear)")
    cache.add_argument("action", choices=("clear",), help="clear: remove the cached backbone features "
                                                         "($FLASH_CACHE/features, default ~/.cache/flash/features)")
    for sub in [*commands.choices.values(), inspect]:  # --debug after the command works too
        sub.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser, {**commands.choices, "data inspect": inspect}


def _add_serve_parser(commands: Any) -> None:
    serve = commands.add_parser(
        "serve",
        help="serve a checkpoint or an exported .onnx model over HTTP (a page at /, the API at /predict)",
        epilog=f"Example:\n  {_examples()['serve']}\n  curl -F files=@cat.png http://127.0.0.1:8000/predict",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    serve.add_argument(
        "--checkpoint", required=True, help="a checkpoint saved by flash, or a .onnx file from flash export"
    )
    serve.add_argument("--host", default="127.0.0.1", help="where to listen (0.0.0.0: reachable from other machines)")
    serve.add_argument("--port", type=port, default=8000)
    serve.add_argument("--device", default="cpu", help="cpu | cuda | cuda:1 | mps")
    serve.add_argument("--max-batch-size", type=at_least(1), default=16, help="the most inputs one forward pass takes")
    serve.add_argument("--max-wait-ms", type=at_least(0, float), default=5.0,
                       help="how long a request waits to share a batch")
    serve.add_argument("--max-queue", type=at_least(1), default=None, metavar="N",
                       help="the most inputs held at once (decoding, waiting or in the model); when full, requests "
                            "get 503 with Retry-After at once (default: 4 x --max-batch-size, at least 64)")
    serve.add_argument("--max-request-bytes", type=at_least(1), default=10 * 1024 * 1024,
                       help="larger requests get 413")
    serve.add_argument("--allow-urls", action="store_true", help="fetch http(s) URLs named in JSON requests")


def main(argv: list[str] | None = None) -> int:
    """Run ``flash`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status (see ``flash.cli.failures``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser, commands = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
        if args.command is None:
            parser.print_help()
            return 0
        if extra and args.command not in ("train", "tune"):
            commands[args.command].error(f"unrecognized arguments: {' '.join(extra)}")
    except SystemExit as stop:  # argparse: --help, --version (0), or a usage error it has printed (2)
        return stop.code if isinstance(stop.code, int) else 0
    command = "data inspect" if args.command == "data" else args.command
    try:
        import importlib

        module, _, function = RUNNERS[args.command].partition(":")
        code = getattr(importlib.import_module(module), function)(args, extra)
        sys.stdout.flush()  # a closed pipe shows here, inside the try, not at interpreter exit
        return code
    except KeyboardInterrupt:
        print("flash: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:
        return _closed_pipe()
    except Exception as err:
        return report(err, command=command, usage=commands[command].format_usage(), debug=args.debug)


def _closed_pipe() -> int:
    """The reader of our output went away (``flash list ... | head``): end quietly, as Unix tools do.

    stdout is pointed at /dev/null so the interpreter's final flush cannot raise again, and the exit
    status is the one a process killed by SIGPIPE reports in a shell (128 + 13).
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 141


if __name__ == "__main__":
    sys.exit(main())
