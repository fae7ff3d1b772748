"""How every ``flash`` command ends when something goes wrong: one line, an exit status, never a traceback.

- A wrong argument (``ConfigurationError``, or argparse's own errors) exits 2, after the command's usage line.
- Bad data or files (any other ``FlashError``, an ``OSError`` naming a file) exit 1 with one line naming the culprit.
- Anything else is a bug in flash: one line, "run with --debug for the traceback", exit 1.
- ``--debug`` prints the traceback first, in every case.

Example:
    >>> from flash.errors import DataError
    >>> describe(DataError("'x.csv' is empty. Received: x.csv"))
    (1, "'x.csv' is empty. Received: x.csv")
"""

from __future__ import annotations

import errno
import os
import re
import sys
import traceback

from flash.errors import ConfigurationError, FlashError

USAGE_ERROR, DATA_ERROR, INTERRUPTED = 2, 1, 130
_LONGEST = 2000  # characters of a message shown (a state-dict error can list hundreds of keys)
DEBUG_HINT = "run with --debug for the traceback"


def one_line(text: str) -> str:
    """``text`` on one line, without terminal escapes, cut at ``_LONGEST`` characters."""
    text = re.sub(r"\x1b\[[0-?]*[ -/]*[@-~]", "", str(text))
    text = " ".join(text.split())
    return text if len(text) <= _LONGEST else text[: _LONGEST - 3] + "..."


def os_reason(err: OSError) -> str:
    """Why ``err`` happened, with the fix: ``the disk is full (...); free some space or choose another disk``."""
    reason = err.strerror or str(err) or type(err).__name__
    if err.errno == errno.ENOSPC:
        return "the disk is full (no space left on the device); free some space or choose another disk"
    if err.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{reason}; choose a path you may write to, or change its permissions"
    return reason


def _os_error(err: OSError) -> str:
    """An ``OSError`` in words that name the file: ``Cannot use 'out/p.csv': Permission denied; ...``."""
    if err.filename is None:
        return f"{os_reason(err)}. Received: {type(err).__name__}"
    return f"Cannot use '{os.fsdecode(err.filename)}': {os_reason(err)}."


def describe(err: BaseException) -> tuple[int, str]:
    """The exit status and the one-line message for ``err``."""
    if isinstance(err, ConfigurationError):
        return USAGE_ERROR, one_line(str(err))
    if isinstance(err, FlashError):
        return DATA_ERROR, one_line(str(err))
    if isinstance(err, OSError):
        return DATA_ERROR, one_line(_os_error(err))
    return DATA_ERROR, one_line(f"internal error: {type(err).__name__}: {err}") + f" ({DEBUG_HINT}; this is a bug " \
        "in flash, please report it with the traceback)"


def report(err: BaseException, *, command: str, usage: str | None, debug: bool) -> int:
    """Print ``err`` as ``flash <command>: error: <one line>`` (after the usage line for a wrong argument)."""
    if debug:
        traceback.print_exception(type(err), err, err.__traceback__, file=sys.stderr)
    code, message = describe(err)
    if code == USAGE_ERROR and usage:
        print(usage.rstrip(), file=sys.stderr)
    print(f"flash {command}: error: {message}", file=sys.stderr)
    return code
