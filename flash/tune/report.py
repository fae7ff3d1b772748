"""What a search leaves behind: a table of its trials, ``best.yaml`` for ``flash train --config``, a plot.

Example:
    >>> format_table(["#", "value"], [[0, 0.91], [12, 0.87]])
    ' #  value\\n--  -----\\n 0   0.91\\n12   0.87'
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml


def format_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain right-aligned text table (no extra dependency)."""
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "-" if value is None else str(value)


def trials_table(study: Any, metric: str) -> str:
    """One row per trial: number, state, the metric (a pruned trial's last one), epochs run, seconds, parameters."""
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    names = sorted({name for t in trials for name in t.params})
    header = ["#", "state", metric, "epochs run", "seconds", *names]
    rows = []
    for t in trials:
        value = t.value if t.value is not None else (
            t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None)
        seconds = t.duration.total_seconds() if t.duration is not None else None
        rows.append([t.number, t.state.name.lower(), _value(value), t.user_attrs.get("epochs_run", "-"),
                     f"{seconds:.1f}" if seconds is not None else "-",
                     *(_value(t.params.get(n)) for n in names)])
    return format_table(header, rows)


def write_best_config(path: str | os.PathLike, config: dict[str, dict[str, Any]], *, comment: str = "") -> Path:
    """Write the sections that are not empty as YAML, after ``comment`` lines (each prefixed with ``#``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = yaml.safe_dump({k: v for k, v in config.items() if v}, sort_keys=False)
    lines = "".join(f"# {line}\n" for line in comment.splitlines())
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(lines + body)
    os.replace(tmp, path)  # a parallel worker never reads half a file
    return path


def plot_search(study: Any, metric: str, *, path: str | os.PathLike | None = None):
    """Left: each trial's result and the best so far. Right: the metric per epoch of every trial, pruned ones grey."""
    from flash.core.plots import _save, new_figure

    figure, axes = new_figure(1, 2, size=(5.5, 4.0))
    history, curves = axes[0, 0], axes[0, 1]
    trials = sorted(study.get_trials(deepcopy=False), key=lambda t: t.number)
    done = [t for t in trials if t.state.name == "COMPLETE"]
    pruned = [t for t in trials if t.state.name == "PRUNED" and t.intermediate_values]
    maximize = study.direction.name == "MAXIMIZE"
    if done:
        history.plot([t.number for t in done], [t.value for t in done], "o", color="C0", label="completed")
        best, line = None, []
        for t in done:
            best = t.value if best is None else (max if maximize else min)(best, t.value)
            line.append(best)
        history.step([t.number for t in done], line, where="post", color="C3", label="best so far")
    if pruned:
        history.plot([t.number for t in pruned], [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
                     "x", color="0.5", label="pruned (last epoch)")
    history.set_xlabel("trial")
    history.set_ylabel(metric)
    history.set_title("Search history")
    for t in trials:
        if t.intermediate_values:
            steps = sorted(t.intermediate_values)
            grey = t.state.name == "PRUNED"
            curves.plot([s + 1 for s in steps], [t.intermediate_values[s] for s in steps], marker="o",
                        color="0.7" if grey else None, linewidth=1 if grey else 1.5)
    curves.set_xlabel("epoch")
    curves.set_ylabel(metric)
    curves.set_title("Per-epoch validation (grey: pruned)")
    from matplotlib.ticker import MaxNLocator

    for ax in (history, curves):
        ax.grid(alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if done or pruned:
        history.legend()
    return _save(figure, path)
