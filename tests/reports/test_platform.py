"""flash/reports/ works for every task through the adapters of ``flash.tasks.ENTRIES``: it names no task, and its
modules import neither each other in a circle nor the package root."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import flash.reports
from flash.tasks import ENTRIES

REPORTS = Path(flash.reports.__file__).parent


def _sources() -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(REPORTS.rglob("*.py"))}


WORDS = ("detection", "speech")  # in any case: "Detection", "speech-to-text"


def _task_names() -> set[str]:
    """Every task name, model and data class, their modules and the task's package (dotted and as a path)."""
    names = set()
    for entry in ENTRIES:
        names.add(entry.name)
        for ref in (entry.model, entry.data):
            module, _, cls = ref.partition(":")
            names |= {module, cls, module.rpartition(".")[0], module.rpartition(".")[0].replace(".", "/")}
        names |= {ref.partition(":")[0] for ref in entry.adapters.values()}  # the task's adapter modules
    return names


def _mentions(text: str, word: str, *, ignore_case: bool) -> bool:
    flags = re.IGNORECASE if ignore_case else 0
    return re.search(rf"(?<![\w.]){re.escape(word)}(?!\w)", text, flags=flags) is not None


def test_reports_name_no_task():
    names = _task_names()
    assert {"image_classification", "ImageClassifier", "flash.image.classification.model"} <= names  # it sees them
    found = [(file, name) for file, text in _sources().items() for name in sorted(names)
             if _mentions(text, name, ignore_case=False)]
    found += [(file, word) for file, text in _sources().items() for word in WORDS
              if _mentions(text, word, ignore_case=True)]
    assert not found, f"flash/reports/ names a task (use its adapters instead): {found}"


def test_the_check_would_see_a_task_named():
    assert _mentions("if task == 'object_detection':", "object_detection", ignore_case=False)
    assert _mentions("from flash.image.detection.voc import read_voc", "flash.image.detection", ignore_case=False)
    assert _mentions("Speech sections", "speech", ignore_case=True)


def _imports(text: str) -> set[str]:
    """Every module a source imports, at the top or inside functions."""
    names = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def test_reports_modules_import_no_cycle_and_not_the_package_root():
    imports = {f"flash.reports.{Path(name).stem}": _imports(text) for name, text in _sources().items()}
    for module, names in imports.items():
        assert "flash" not in names, f"{module} imports the package root"
        for other in names & set(imports):
            assert module not in imports[other], f"{module} and {other} import each other"


def test_importing_reports_registers_the_default_report_callback():
    from flash.engine.defaults import default_callbacks
    from flash.reports.callback import ReportCallback

    made = default_callbacks({"report": True})
    assert [type(c) for c in made if isinstance(c, ReportCallback)] == [ReportCallback]
    assert not any(isinstance(c, ReportCallback) for c in default_callbacks({"report": False}))
