"""Training reports and data inspection for every task.

- :func:`report` writes ``<log dir>/report/index.html``: curves, run facts and the task's evaluation pictures.
- :class:`ReportCallback` does it after every ``fit`` / ``finetune`` / ``validate`` (``Trainer(report=False)``: off).
- :func:`inspect_data` checks a data set before training (``flash data inspect PATH``).

Names are imported on first use, so ``import flash.reports`` loads no torch.
"""

from __future__ import annotations

from flash.engine.defaults import register_default_callback
from flash.lazy import lazy_getattr

_LAZY = {
    "report": "flash.reports.build",
    "write_report": "flash.reports.build",
    "ReportCallback": "flash.reports.callback",
    "inspect_data": "flash.reports.inspect",
}

__all__ = sorted(_LAZY)

__getattr__ = lazy_getattr(__name__, _LAZY)


def _report_callback():
    from flash.reports.callback import ReportCallback

    return ReportCallback()


register_default_callback("report", _report_callback)  # Trainer(report=True), the default, adds it
