"""``flash data inspect`` output: a short text table, and with ``--report DIR`` an HTML page with pictures."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

from flash.reports.html import Page, Section
from flash.reports.inspection import Inspection


def _spread(values: list) -> str:
    if not values:
        return "-"
    if isinstance(values[0], tuple):  # (width, height) pairs
        common = Counter(values).most_common(3)
        return ", ".join(f"{w:g}x{h:g} ({n})" for (w, h), n in common) + (" ..." if len(set(values)) > 3 else "")
    ordered = sorted(values)
    return f"min {ordered[0]:g}, median {ordered[len(ordered) // 2]:g}, max {ordered[-1]:g}"


def count_rows(inspection: Inspection) -> tuple[list[str], list[list[Any]]]:
    """``(headers, rows)``: one row per class, one column per split."""
    splits = list(inspection.counts)
    labels = sorted({label for counts in inspection.counts.values() for label in counts})
    rows = [[label] + [inspection.counts[s].get(label, 0) for s in splits] for label in labels]
    return ["class"] + splits, rows


def measure_rows(inspection: Inspection) -> list[list[str]]:
    rows = [[name, f"{len(values)} values: {_spread(values)}"] for name, values in inspection.measures.items()]
    rows += [[name, ", ".join(f"{key} ({n})" for key, n in tally.most_common())]
             for name, tally in inspection.tallies.items()]
    return rows


def summary_text(inspection: Inspection, description: str) -> str:
    """What ``flash data inspect`` prints."""
    headers, rows = count_rows(inspection)
    widths = [max(len(str(r[i])) for r in [headers] + rows) for i in range(len(headers))]
    lines = [description, ""]
    lines += ["  ".join(str(v).rjust(w) if i else str(v).ljust(w) for i, (v, w) in enumerate(zip(r, widths)))
              for r in [headers] + rows]
    lines += [""] + [f"{name}: {value}" for name, value in measure_rows(inspection)]
    if inspection.findings:
        lines += [""] + [f"{f.level.upper():7} {f.message}" for f in inspection.findings]
    verdict = (f"{len(inspection.errors)} error(s): training would fail." if inspection.errors else
               "No errors: the data can be trained on.")
    lines += ["", f"{verdict} {len(inspection.warnings)} warning(s)."]
    return "\n".join(lines)


def write_inspection_page(inspection: Inspection, description: str, folder: str | os.PathLike) -> Path:
    """The same as :func:`summary_text` as ``folder/index.html``, with histograms."""
    page = Page(f"Data inspection: {inspection.task}", folder=folder)
    page.section("Format").text(description)
    headers, rows = count_rows(inspection)
    counts = page.section("Counts").table(headers, rows, csv_name="counts.csv")
    if rows:
        _bar_chart(counts, headers, rows)
    measures = page.section("Measurements").table(["what", "values"], measure_rows(inspection))
    for name, values in inspection.measures.items():
        _histogram(measures, name, values)
    problems = page.section("Problems")
    problems.table(["level", "problem"], [[f.level, f.message] for f in inspection.findings], csv_name="problems.csv")
    if not inspection.findings:
        problems.text("None found.")
    return page.write()


def _bar_chart(section: Section, headers: list[str], rows: list[list[Any]]) -> None:
    from flash.core.plots import new_figure

    figure, axes = new_figure(size=(max(4.0, 0.35 * len(rows)), 3.2))
    ax = axes[0, 0]
    width = 0.8 / (len(headers) - 1)
    for k, split in enumerate(headers[1:]):
        ax.bar([i + k * width for i in range(len(rows))], [r[k + 1] for r in rows], width=width, label=split)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(rows))], [str(r[0]) for r in rows], rotation=45, ha="right")
    ax.set_ylabel("count")
    ax.legend()
    section.figure(figure, "counts.png", alt="counts per class and split")


def _histogram(section: Section, name: str, values: list) -> None:
    from flash.core.plots import new_figure

    figure, axes = new_figure(size=(4.5, 3.0))
    ax = axes[0, 0]
    if values and isinstance(values[0], tuple):
        ax.scatter([v[0] for v in values], [v[1] for v in values], s=8, alpha=0.5)
        ax.set(xlabel="width", ylabel="height")
    else:
        ax.hist(values, bins=min(30, max(5, len(set(values)))))
        ax.set(xlabel=name, ylabel="count")
    ax.set_title(name)
    slug = "".join(c if c.isalnum() else "_" for c in name).strip("_")
    section.figure(figure, f"{slug}.png", alt=name)
