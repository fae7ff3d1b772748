"""The report page: sections of headings, tables and pictures, written as one ``index.html``.

Pictures are SVG or PNG files beside the page (``<img src="curves.svg">``), tables are HTML and also
CSV files beside it, so the folder opens from disk with no server and the numbers stay machine-readable.

Example:
    >>> page = Page("Run report")
    >>> page.section("Facts").table(["name", "value"], [["epochs", 3]])  # doctest: +ELLIPSIS
    <...Section...>
"""

from __future__ import annotations

import csv
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flash.core.reporting import Markup  # noqa: F401 - the cell type task packages use for HTML (e.g. a diff)

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{margin-bottom:0}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.92em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}.note{color:#666;font-size:.9em}
del{background:#fdd;text-decoration:line-through}ins{background:#dfd;text-decoration:none}
mark{background:#ffe08a}
"""


def cell(value: Any) -> str:
    """One table cell: numbers right-aligned with 4 significant decimals, everything else escaped."""
    if isinstance(value, float):
        return f'<td class="num">{value:.4f}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    if hasattr(value, "__html__"):  # already HTML (flash.core.reporting.Markup, markupsafe.Markup)
        return f"<td>{value.__html__()}</td>"
    return f"<td>{html.escape(str(value))}</td>"


@dataclass
class Section:
    """A heading and its parts (HTML strings), in order.

    A task's report adapter gets sections from ``page.section(title)`` and adds to them with :meth:`text`,
    :meth:`table`, :meth:`figure` and :meth:`picture`; ``folder`` is where files beside the page go (a PNG saved
    there by other means, e.g. an image grid, is then shown with :meth:`picture`).
    """

    title: str
    folder: Path
    parts: list[str] = field(default_factory=list)

    def text(self, text: str, *, note: bool = False) -> Section:
        self.parts.append(f'<p class="note">{html.escape(text)}</p>' if note else f"<p>{html.escape(text)}</p>")
        return self

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[Any]], *, csv_name: str | None = None) -> Section:
        """An HTML table; with ``csv_name`` the same rows are written as a CSV file beside the page."""
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
        body = "".join("<tr>" + "".join(cell(v) for v in row) + "</tr>" for row in rows)
        self.parts.append(f"<table><tr>{head}</tr>{body}</table>")
        if csv_name:
            with open(self.folder / csv_name, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(headers)
                writer.writerows([[v.__html__() if hasattr(v, "__html__") else v for v in row] for row in rows])
        return self

    def figure(self, figure: Any, name: str, *, alt: str) -> Section:
        """Save a matplotlib figure as ``name`` beside the page and show it."""
        figure.savefig(self.folder / name, dpi=90, pil_kwargs={"compress_level": 1})  # fast to write
        return self.picture(name, alt=alt)

    def svg(self, markup: str, name: str, *, alt: str) -> Section:
        """Save an SVG image (``flash.core.reporting.svg``'s charts) as ``name`` beside the page and show it."""
        (self.folder / name).write_text(markup, encoding="utf-8")
        return self.picture(name, alt=alt)

    def picture(self, name: str, *, alt: str) -> Section:
        """Show a picture (PNG, SVG) already saved as ``name`` beside the page."""
        self.parts.append(f'<img src="{html.escape(name)}" alt="{html.escape(alt)}">')
        return self


class Page:
    """An HTML report page made of :class:`Section` s, written with :meth:`write`."""

    def __init__(self, title: str, *, folder: str | os.PathLike = ".") -> None:
        self.title = title
        self.folder = Path(folder)
        self.sections: list[Section] = []

    def section(self, title: str) -> Section:
        self.folder.mkdir(parents=True, exist_ok=True)
        self.sections.append(Section(title, self.folder))
        return self.sections[-1]

    def write(self, name: str = "index.html") -> Path:
        """Write the page into its folder; returns the file's path."""
        self.folder.mkdir(parents=True, exist_ok=True)
        body = "".join(f"<h2>{html.escape(s.title)}</h2>" + "".join(s.parts) for s in self.sections if s.parts)
        path = self.folder / name
        path.write_text(f'<!doctype html><html><head><meta charset="utf-8"><title>{html.escape(self.title)}</title>'
                        f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>{body}</body></html>\n",
                        encoding="utf-8")
        return path
