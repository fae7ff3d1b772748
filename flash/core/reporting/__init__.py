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
