"""``flash list tasks | backbones TASK [PATTERN] | heads TASK`` (imported only once the command runs)."""

from __future__ import annotations

from typing import Any

from flash.errors import ConfigurationError
from flash.tasks import ENTRIES, get_task


def run_list(args: Any, extra: list[str]) -> int:
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
            raise ConfigurationError(f"{args.task} has no heads to choose from. Received: flash list heads {args.task}")
        names = model_cls.available_heads()
    else:
        if not hasattr(model_cls, "available_backbones"):
            raise ConfigurationError(f"{args.task} takes any compatible Hugging Face model id or local folder "
                                     f"as backbone. Received: flash list backbones {args.task}")
        names = model_cls.available_backbones(args.pattern) if args.pattern else model_cls.available_backbones()
    for name in names if not isinstance(names, dict) else [f"{k}: {', '.join(v)}" for k, v in names.items()]:
        print(name)
    return 0
