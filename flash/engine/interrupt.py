"""Training that survives interruption: SIGTERM, SIGINT (Ctrl-C) and SIGUSR1 end ``fit`` cleanly.

While ``fit`` runs (in the main thread), a signal asks the loop to stop: it finishes the current
optimizer step, writes a resumable ``last.ckpt`` (mid-epoch), flushes the loggers and raises
:class:`TrainingInterrupted`, a ``SystemExit`` whose exit code is ``128 + signal number``
(SIGINT 130, SIGUSR1 138, SIGTERM 143), as a shell reports a process killed by that signal.
A second Ctrl-C raises ``KeyboardInterrupt`` at once. Under DDP every process learns of a
signal at the same optimizer step, so all stop there and save one consistent checkpoint.
Under SLURM, SIGUSR1 (``sbatch --signal=SIGUSR1@90``) also requeues the job.

Example:
    >>> import signal
    >>> exit_code(signal.SIGTERM)
    143
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch

SIGNALS = ("SIGTERM", "SIGINT", "SIGUSR1")


def exit_code(signum: int) -> int:
    """The exit status of a run stopped by ``signum``: ``128 + signum``."""
    return 128 + int(signum)


class TrainingInterrupted(SystemExit):
    """``fit`` stopped on a signal after saving a resumable checkpoint.

    Uncaught, it ends the script with ``code`` (``128 + signal number``); ``checkpoint`` is the file
    to resume from (``trainer.fit(..., ckpt_path=checkpoint)`` or ``flash train ... --resume``).
    """

    def __init__(self, message: str, *, signal_name: str, checkpoint: Path, code: int) -> None:
        super().__init__(code)
        self.message, self.signal_name, self.checkpoint = message, signal_name, checkpoint

    def __str__(self) -> str:
        return self.message


class StopRequest:
    """What the signal handlers record while ``fit`` runs, and the loop's per-step question: stop now?

    Example:
        >>> stop = StopRequest(deadline=None)
        >>> with stop.installed():
        ...     pass
        >>> stop.signum is None
        True
    """

    def __init__(self, *, deadline: float | None) -> None:
        self.signum: int | None = None  # the first signal received (-1: one received by another process)
        self.deadline = deadline  # time.monotonic() at which max_time runs out
        self._pid = os.getpid()  # forked DataLoader workers inherit the handlers; they leave stopping to us

    @property
    def signal_name(self) -> str:
        if self.signum is None or self.signum < 0:
            return "a signal to another process"
        return signal.Signals(self.signum).name

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopRequest]:
        """Handle the signals inside the block (main thread only); the previous handlers are restored after."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {}
        for name in SIGNALS:
            signum = getattr(signal, name, None)  # Windows has no SIGUSR1
            if signum is not None:
                previous[signum] = signal.signal(signum, self._handle)
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)

    def _handle(self, signum: int, frame) -> None:
        if os.getpid() != self._pid:
            return
        if self.signum is not None:
            if signum == signal.SIGINT:  # a second Ctrl-C: stop at once, without saving
                raise KeyboardInterrupt
            return
        self.signum = signum
        name = signal.Signals(signum).name
        again = " (Ctrl-C again to quit at once, without saving)" if signum == signal.SIGINT else ""
        os.write(2, f"flash: received {name}; stopping after the current step and saving a checkpoint{again}\n"
                 .encode())

    def poll(self, trainer) -> bool:
        """After an optimizer step: whether to stop (a signal, or ``max_time`` ran out), agreed by every process.

        Sets ``trainer.fit_state.time_up``; a signal received by another process sets ``signum`` to -1.
        """
        time_up = self.deadline is not None and time.monotonic() >= self.deadline
        got_signal = self.signum is not None
        if trainer.world_size > 1:  # one tiny all-reduce: every process stops at the same step
            flags = trainer.strategy.all_reduce_sum(torch.tensor([float(got_signal), float(time_up)]))
            got_signal, time_up = bool(flags[0] > 0), bool(flags[1] > 0)
            if got_signal and self.signum is None:
                self.signum = -1
        trainer.fit_state.time_up = time_up
        return got_signal or time_up


# ---------------------------------------------------------------------------------------- SLURM
def slurm_requeue_command(signum: int, environ: Mapping[str, str] = os.environ) -> list[str] | None:
    """``["scontrol", "requeue", JOB]`` when ``signum`` is SIGUSR1 in a SLURM batch job, else None.

    An interactive allocation (``srun --pty bash``, ``salloc``) is not requeued.

    Example:
        >>> slurm_requeue_command(signal.SIGUSR1, {"SLURM_JOB_ID": "42", "SLURM_JOB_NAME": "train"})
        ['scontrol', 'requeue', '42']
    """
    job = environ.get("SLURM_JOB_ID")
    if signum != getattr(signal, "SIGUSR1", None) or not job:
        return None
    if environ.get("SLURM_JOB_NAME", "") in ("bash", "interactive", "sh", "zsh"):
        return None
    if environ.get("SLURM_ARRAY_JOB_ID") and environ.get("SLURM_ARRAY_TASK_ID"):
        job = f"{environ['SLURM_ARRAY_JOB_ID']}_{environ['SLURM_ARRAY_TASK_ID']}"
    return ["scontrol", "requeue", job]


def requeue_if_slurm(signum: int) -> str:
    """Requeue this SLURM job when the signal asks for it; returns a line for the stop message ('' if not)."""
    command = slurm_requeue_command(signum)
    if command is None:
        return ""
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        return f"\nCould not requeue the SLURM job ({shlex.join(command)}: {err})."
    if result.returncode != 0:
        return f"\nCould not requeue the SLURM job ({shlex.join(command)}: {result.stderr.strip()})."
    return f"\nRequeued SLURM job {command[-1]}: it resumes from this checkpoint when it starts again."


def stop_message(trainer, stop: StopRequest, checkpoint: Path) -> str:
    """What a stopped run prints: why, where it stopped, the checkpoint, and the exact resume command."""
    state = trainer.fit_state
    total = trainer.num_training_batches
    where = f"epoch {state.epoch}, batch {state.batches_seen} of {total:g}, global step {state.global_step}"
    hint = trainer.resume_hint.format(path=str(checkpoint))
    return (f"flash: training stopped by {stop.signal_name} at {where}.\n"
            f"Saved a resumable checkpoint: {checkpoint}\nResume with: {hint}")


def print_stop_message(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
