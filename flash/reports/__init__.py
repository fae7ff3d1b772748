"""Training reports and data inspection for every task.

- :func:`report` writes ``<log dir>/report/index.html``: curves, run facts and the task's evaluation pictures.
- :class:`ReportCallback` does it after every ``fit`` / ``finetune`` / ``validate`` (``Trainer(report=False)``: off);
  importing this package registers it as the Trainer's default callback for the ``report`` flag.
- :func:`inspect_data` checks a data set before training (``flash data inspect PATH``).

What a task adds to both (its sections, how its data is read and measured) comes from its ``report`` and
``inspect`` adapters (ARCHITECTURE.md, "Adding a task"); nothing here names a task.
Names are imported on first use, so ``import flash.reports`` loads no torch.
"""

from __future__ import annotations

from typing import Any

from flash.engine.defaults import register_default_callback
from flash.lazy import lazy_getattr

_LAZY = {
    "report": "flash.reports.build",
    "write_report": "flash.reports.write",
    "ReportCallback": "flash.reports.callback",
    "inspect_data": "flash.reports.inspect",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)


def _report_callback() -> Any:
    from flash.reports.callback import ReportCallback

    return ReportCallback()


register_default_callback("report", _report_callback)
