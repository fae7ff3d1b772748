"""``import flash`` stays light, and the public API is pinned."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

import flash

HEAVY = ("torch", "torchvision", "timm", "transformers", "torchaudio", "datasets", "matplotlib", "pandas")


def test_import_flash_loads_no_heavy_library():
    code = f"import json, sys, flash; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    assert json.loads(result.stdout) == []


def test_public_api_is_pinned():
    assert flash.__all__ == [
        "CSVLogger", "Callback", "DataModule", "EarlyStopping", "Fabric", "ImageClassificationData", "ImageClassifier",
        "InputTransform",
        "LearningRateMonitor", "ModelCheckpoint", "ObjectDetectionData", "ObjectDetector", "ProgressBar", "Registry",
        "SpeechRecognition", "SpeechRecognitionData", "SpeechRecognizer", "Task", "TensorBoardLogger",
        "TextClassificationData", "TextClassifier", "Trainer", "TrainingModule", "Tuner", "plot_metrics", "report",
        "seed_everything",
        "__version__",
    ]
    assert set(flash.__all__) <= set(dir(flash))


@pytest.mark.parametrize("name", sorted(flash._LAZY))
def test_public_names_resolve(name):
    module = flash._LAZY[name]
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} does not exist yet")
    value = getattr(flash, name)
    assert value is getattr(importlib.import_module(module), name) and value is not None


def test_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'Trainr'"):
        flash.Trainr  # noqa: B018


def _imports_the_root(tree) -> list[int]:
    import ast

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import) and any(alias.name == "flash" for alias in node.names):
            lines.append(node.lineno)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module == "flash":
            lines.append(node.lineno)
    return lines


def test_nothing_inside_imports_the_package_root():
    """``import flash`` / ``from flash import X`` inside the package would make every layer depend on all of them
    (the root resolves every public name); import-linter cannot say it, so this test does."""
    import ast
    from pathlib import Path

    package = Path(flash.__file__).parent
    offenders = {
        str(path.relative_to(package.parent)): lines
        for path in sorted(package.rglob("*.py"))
        if path != package / "__init__.py" and (lines := _imports_the_root(ast.parse(path.read_text())))
    }
    assert offenders == {}


def test_flash_trainer_writes_the_report_by_default():
    """The root imports flash.reports (which registers the "report" default callback) when it resolves Trainer."""
    code = ("import flash; trainer = flash.Trainer(logger=False, enable_checkpointing=False); "
            "print(sorted(type(c).__name__ for c in trainer.callbacks))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=True)
    assert "ReportCallback" in result.stdout


def _module_imports() -> dict[str, set[str]]:
    """Every flash module -> the flash modules it imports anywhere in its text (lazy imports included)."""
    import ast
    from pathlib import Path

    root = Path(flash.__file__).parent
    modules = {}
    for path in root.rglob("*.py"):
        name = ".".join(path.relative_to(root.parent).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path
    edges: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parts + ([base] if base else []))
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            else:
                continue
            edges[name] |= {target for target in targets if target in modules and target != name}
    return edges


def test_no_import_cycles_between_flash_modules():
    """No chain of imports leads from a module back to itself (lazy imports inside functions count too)."""
    edges = _module_imports()
    cycles = []
    for start in edges:
        seen, stack = set(), [(start, (start,))]
        while stack:
            module, path = stack.pop()
            for target in edges[module]:
                if target == start:
                    cycles.append(" -> ".join((*path, start)))
                elif target not in seen:
                    seen.add(target)
                    stack.append((target, (*path, target)))
    assert cycles == []
