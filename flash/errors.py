"""The one exception tree of flash.

::

    FlashError                      base of everything flash raises on purpose
    ├── ConfigurationError          (also ValueError) a bad argument: names the value and the choices
    ├── DataError                   (also ValueError) bad user data: names the file / row and the fix
    ├── CheckpointError             a checkpoint that cannot be read, is unsafe, or is from another version/task
    ├── MissingDependencyError      (also ImportError) an optional package is missing: gives the pip line
    ├── DownloadError               (also OSError) a URL could not be fetched or failed its checksum
    └── NonFiniteLossError          (also FloatingPointError) training produced NaN/inf

Messages follow one pattern: the problem, the value (``Received: arg=value``), the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class FlashError(Exception):
    """Base class of every error flash raises on purpose."""


class ConfigurationError(FlashError, ValueError):
    """An argument has a value flash cannot use."""


class DataError(FlashError, ValueError):
    """The user's data is missing, malformed, or inconsistent."""


class CheckpointError(FlashError):
    """A checkpoint cannot be loaded (corrupt, unsafe, wrong task, or wrong format version)."""


class MissingDependencyError(FlashError, ImportError):
    """An optional dependency is not installed."""


class DownloadError(FlashError, OSError):
    """A URL could not be downloaded (offline, not found) or the file failed its checksum."""


class NonFiniteLossError(FlashError, FloatingPointError):
    """The training loss became NaN or infinite."""


def close_matches(value: str, choices: Iterable[str], n: int = 3) -> list[str]:
    """The choices closest to ``value``, best first (for "Did you mean ...?" hints)."""
    return difflib.get_close_matches(str(value), list(choices), n=n, cutoff=0.5)


def invalid_choice(arg: str, value: object, choices: Iterable[object]) -> ConfigurationError:
    """A ConfigurationError for ``arg=value`` that lists the valid choices and a close match."""
    names = [str(c) for c in choices]
    hint = close_matches(str(value), names, n=1)
    did_you_mean = f" Did you mean {hint[0]!r}?" if hint else ""
    return ConfigurationError(
        f"Invalid {arg}={value!r}.{did_you_mean} Valid values: {', '.join(repr(c) for c in names)}. "
        f"Received: {arg}={value!r}"
    )


def weights_unavailable(weights: str, err: BaseException, *, cache: str, fix: str) -> ConfigurationError:
    """The error for pretrained weights that cannot be downloaded (offline): what, where cached, and the fix."""
    reason = str(err).splitlines()[0] if str(err) else type(err).__name__
    return ConfigurationError(
        f"Cannot download the pretrained weights {weights} ({type(err).__name__}: {reason}). Is the machine "
        f"offline? Downloaded weights are cached under '{cache}', so copying the file there works offline; "
        f"or {fix}. Received: pretrained=True"
    )


DISTRIBUTION = "flash-finetune"  # the name on PyPI; the import name is ``flash``


def install_hint(extra: str | None, *, package: str = "") -> str:
    """The exact pip line that installs an optional part of flash (or a package no extra declares).

    Example:
        >>> install_hint("audio")
        'pip install "flash-finetune[audio]"'
        >>> install_hint(None, package="wandb")
        'pip install wandb'
    """
    return f'pip install "{DISTRIBUTION}[{extra}]"' if extra else f"pip install {package}"


def require(module: str, extra: str | None, *, purpose: str = "") -> Any:
    """Import an optional module, or raise MissingDependencyError with the exact pip line.

    ``extra`` names the extra of flash that declares the module's package, or None for a package
    that no extra declares (the hint then installs the package itself).
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as err:
        what = f" for {purpose}" if purpose else ""
        package = module.split(".")[0]
        raise MissingDependencyError(
            f"The package {package!r} is needed{what} but is not installed. "
            f"Install it with: {install_hint(extra, package=package)}"
        ) from err
