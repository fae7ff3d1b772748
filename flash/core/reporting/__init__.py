"""What the run report and ``flash data inspect`` share with the task packages that feed them.

Task packages sit below ``flash.reports`` and may not import it; their ``report`` and ``inspect`` adapters
(ARCHITECTURE.md, "Adding a task") build on these modules instead:

- :mod:`flash.core.reporting.classification`: the report adapter every classifier shares (per-class metrics,
  confusion matrix, most confident mistakes).
- :mod:`flash.core.reporting.grid`: image grids drawn with PIL.
- :mod:`flash.core.reporting.inspection`: ``Item`` and ``Measurement``, what an inspect adapter reads and measures,
  and the readers of class folders and tables that several tasks share.

:class:`Markup` is a table cell that is already HTML (the page shows it as is). This module imports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

ReportT = TypeVar("ReportT", bound="PassReport")


@dataclass(frozen=True)
class Markup:
    """Text that is already HTML (e.g. an aligned diff with ``<del>``/``<ins>``); a report table shows it as is.

    Example:
        >>> Markup("<del>cat</del>").__html__()
        '<del>cat</del>'
    """

    text: str

    def __html__(self) -> str:  # the markupsafe / Jinja protocol: any object with __html__ is shown unescaped
        return self.text


class PassReport:
    """What a task keeps of one validation pass for its run report, joined across processes.

    A subclass names the list attributes that each process fills in ``kept``: :meth:`merged` concatenates
    them, in process order, and calls :meth:`trim`, where a report cuts what it shows to its limit.
    """

    kept: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def merged(cls: type[ReportT], parts: list[ReportT]) -> ReportT:
        """One pass's outputs from every process (each saw its shard of the validation data)."""
        whole = cls()
        for part in parts:
            for name in cls.kept:
                getattr(whole, name).extend(getattr(part, name))
        whole.trim()
        return whole

    def trim(self) -> None:
        """Cut the kept lists to what the report shows (after merging, e.g. the 8 first images); none by default."""

    def add(self, module: Any, outputs: dict, batch: Any) -> None:
        raise NotImplementedError
