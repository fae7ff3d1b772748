"""What ``flash data inspect`` finds: :class:`Inspection` (counts, measurements, findings) and its parts.

Example:
    >>> result = Inspection("my_task")
    >>> result.add("warning", "2 images are copies.")
    >>> result.warnings, result.errors
    (['2 images are copies.'], [])
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from flash.core.reporting.inspection import Item

IMBALANCE = 10.0  # largest / smallest class count above this: a warning
FEW = 5  # classes with fewer training examples: a warning


@dataclass(frozen=True)
class Finding:
    level: Literal["error", "warning"]
    message: str


@dataclass
class Inspection:
    """What :func:`flash.reports.inspect.inspect_data` found: counts, measurements for the histograms, findings."""

    task: str
    counts: dict[str, Counter] = field(default_factory=dict)  # split -> label -> count
    measures: dict[str, list] = field(default_factory=dict)  # "image sizes", "durations (s)", ...
    tallies: dict[str, Counter] = field(default_factory=dict)  # "image modes", "sample rates (Hz)", ...
    findings: list[Finding] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [f.message for f in self.findings if f.level == "error"]

    @property
    def warnings(self) -> list[str]:
        return [f.message for f in self.findings if f.level == "warning"]

    def add(self, level: Literal["error", "warning"], message: str) -> None:
        self.findings.append(Finding(level, message))


def content_hash(item: Item) -> str | None:
    """SHA-1 of the file's bytes (or of the text), to find exact duplicates."""
    if item.path is not None:
        try:
            return hashlib.sha1(Path(item.path).read_bytes()).hexdigest()
        except OSError:
            return None
    return hashlib.sha1(item.text.encode("utf-8")).hexdigest() if item.text is not None else None
