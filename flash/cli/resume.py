"""``flash train --seed`` and ``--resume``: repeatable runs, and continuing a stopped one in its own folder.

A run folder is ``<default_root_dir>/flash_logs/version_<N>/``; a stopped run left
``checkpoints/last.ckpt`` there. ``--resume`` takes the newest such file (``--resume auto``: the
same, or a new run when there is none, for job scripts that are requeued), ``--resume PATH`` a given
one; the run continues in that folder (its ``metrics.csv`` appended) with the seed the checkpoint
recorded.

Example:
    >>> choose_seed("42", recorded=None)
    42
"""

from __future__ import annotations

import re
import secrets
import shlex
from pathlib import Path
from typing import Any

from flash.errors import CheckpointError, ConfigurationError

DEFAULT_SEED = 0
_RUN_CHECKPOINT = re.compile(r"version_(\d+)")


def choose_seed(flag: str | None, *, recorded: int | None) -> int:
    """The seed of this run: ``--seed N``, ``--seed random`` (a new one), else the resumed run's, else 0."""
    if flag is None:
        return DEFAULT_SEED if recorded is None else recorded
    if flag == "random":
        return secrets.randbelow(2**31)
    try:
        return int(flag)
    except ValueError:
        raise ConfigurationError(f"--seed takes an integer or 'random'. Received: --seed {flag}") from None


def find_resume_checkpoint(flag: str, *, root: Path) -> Path | None:
    """The checkpoint ``--resume`` names: ``PATH``, or (``latest`` / ``auto``) the newest run's ``last.ckpt``.

    ``auto`` returns None when there is none; ``latest`` raises.
    """
    if flag not in ("latest", "auto"):
        path = Path(flag)
        if not path.is_file():
            raise CheckpointError(f"--resume {flag}: no such checkpoint file. Give the path of a last.ckpt, or "
                                  f"--resume alone for the newest run under '{root}'. Received: --resume {flag}")
        return path
    runs = [(int(m.group(1)), p) for p in root.glob("flash_logs/version_*/checkpoints/last.ckpt")
            if (m := _RUN_CHECKPOINT.fullmatch(p.parent.parent.name))]
    if runs:
        return max(runs)[1]
    if flag == "auto":
        return None
    raise CheckpointError(f"--resume found no run to continue: no flash_logs/version_*/checkpoints/last.ckpt under "
                          f"'{root.resolve()}'. Run from the folder of the first run, or give the checkpoint: "
                          "--resume PATH. Received: --resume")


def run_folder_logger(checkpoint: Path) -> Any:
    """A CSVLogger writing into the run folder ``checkpoint`` belongs to, or None if it is in no run folder."""
    run = checkpoint.resolve().parent.parent
    match = _RUN_CHECKPOINT.fullmatch(run.name)
    if checkpoint.parent.name != "checkpoints" or match is None:
        return None
    from flash.engine.loggers import CSVLogger

    return CSVLogger(run.parent.parent, name=run.parent.name, version=int(match.group(1)))


def resume_command(args: Any, extra: list[str]) -> str:
    """This ``flash train`` command line with ``--resume {path}``, as a ``str.format`` template.

    ``--seed`` is left out: the resumed run takes the seed its checkpoint recorded.
    """
    words = ["flash", "train", args.task]
    for flag in ("data", "config", "checkpoint"):
        value = getattr(args, flag, None)
        if value is not None:
            words += [f"--{flag}", str(value)]
    command = shlex.join(words + list(extra)).replace("{", "{{").replace("}", "}}")
    return command + " --resume {path}"
