"""The distribution declares exactly what flash imports, and its version has one source.

The scan reads ``flash/**/*.py`` with ``ast`` (nothing is imported), so a new ``import x`` or
``require("x", "extra")`` that pyproject.toml does not declare fails here, and so does a declared
package that nothing imports any more. To teach it a new part of flash or a new package, extend
the three tables below.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import tomllib

import flash
from flash.errors import DISTRIBUTION, install_hint

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

# import name -> distribution name, where they differ by more than "_" vs "-"
IMPORT_TO_DIST = {
    "PIL": "pillow",
    "yaml": "pyyaml",
    "sklearn": "scikit-learn",
    "faster_coco_eval": "faster-coco-eval",
}
# the part of flash (a folder or file under flash/) -> the extra its module-level imports may come from;
# every other part may import only the base dependencies at module level
PART_EXTRA = {
    "flash/image": "image",
    "flash/text": "text",
    "flash/audio": "audio",
    "flash/core/plots.py": "plot",
    "flash/serve": "serve",
    "flash/tune": "tune",
}
# declared packages that flash uses without importing them by name, and why
NOT_IMPORTED = {
    "pyarrow": "pandas.read_parquet's engine (text classification from_parquet, the CLI's Parquet detection)",
    "pycocotools": "torchmetrics' COCO mAP backend, picked at run time in flash.image.detection.model",
    "python-multipart": "imported inside flash.serve.forms (reads multipart uploads as raw bytes) and by FastAPI",
}
# bench: the peer libraries of benchmarks/peers, never imported by flash
RUNTIME_EXTRAS = sorted(set(PYPROJECT["project"]["optional-dependencies"]) - {"test", "lint", "bench"})


def _dist(name: str) -> str:
    """The normalised distribution name of an import name or requirement name (PEP 503)."""
    return re.sub(r"[-_.]+", "-", IMPORT_TO_DIST.get(name, name)).lower()


def _requirements(extra: str | None) -> set[str]:
    """Distributions of the base dependencies (extra None) or of an extra, following self-references."""
    project = PYPROJECT["project"]
    lines = project["dependencies"] if extra is None else project["optional-dependencies"][extra]
    found: set[str] = set()
    for line in lines:
        match = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[([^\]]*)\])?", line)
        name = _dist(match.group(1))
        if name == _dist(DISTRIBUTION):
            for inner in match.group(2).split(","):
                found |= _requirements(inner.strip())
        else:
            found.add(name)
    return found


def _part(path: Path) -> str | None:
    relative = path.relative_to(ROOT).as_posix()
    for prefix, extra in PART_EXTRA.items():
        if relative == prefix or relative.startswith(prefix + "/"):
            return extra
    return None


def _is_type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def _module_level_nodes(tree: ast.Module):
    """Statements that run when the module is imported (``if TYPE_CHECKING:`` blocks excluded)."""
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, ast.If) and not _is_type_checking(node):
            stack += node.body + node.orelse
        elif isinstance(node, ast.Try):
            stack += node.body + node.orelse + node.finalbody


def _imports(nodes) -> set[str]:
    """Top-level names of the absolute, third-party imports among ``nodes``."""
    names = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name != "flash"}


def _require_calls(tree: ast.Module) -> list[tuple[str, str | None]]:
    """``(module, extra)`` of every ``require("module", "extra" | None, ...)`` call with literal arguments."""
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "require" and len(node.args) >= 2:
            module, extra = node.args[:2]
            if isinstance(module, ast.Constant) and isinstance(extra, ast.Constant):
                calls.append((module.value.split(".")[0], extra.value))
    return calls


SOURCES = {path: ast.parse(path.read_text(encoding="utf-8")) for path in sorted((ROOT / "flash").rglob("*.py"))}
DECLARED = _requirements(None).union(*(_requirements(extra) for extra in RUNTIME_EXTRAS))


def test_every_imported_package_is_declared():
    missing = {
        f"{path.relative_to(ROOT)}: {name}"
        for path, tree in SOURCES.items()
        for name in _imports(ast.walk(tree)) | {module for module, extra in _require_calls(tree) if extra}
        if _dist(name) not in DECLARED
    }
    assert not missing, f"imported but declared in no extra of pyproject.toml: {sorted(missing)}"


def test_module_level_imports_come_from_the_parts_extra():
    wrong = []
    for path, tree in SOURCES.items():
        extra = _part(path)
        allowed = _requirements(None) | (_requirements(extra) if extra in RUNTIME_EXTRAS else set())
        wrong += [f"{path.relative_to(ROOT)}: {name} (extra {extra})" for name in _imports(_module_level_nodes(tree))
                  if _dist(name) not in allowed]
    assert not wrong, f"imported at module level but not in the base dependencies or the part's extra: {wrong}"


def test_require_names_the_extra_that_declares_the_package():
    wrong = []
    for path, tree in SOURCES.items():
        for module, extra in _require_calls(tree):
            if extra is None:
                ok = _dist(module) not in DECLARED  # a package no extra declares: the hint installs it alone
            else:
                ok = extra in RUNTIME_EXTRAS and _dist(module) in _requirements(extra) | _requirements(None)
            if not ok:
                wrong.append(f"{path.relative_to(ROOT)}: require({module!r}, {extra!r})")
    assert not wrong, f"the pip hint would not install the package: {wrong}"


def test_every_declared_package_is_imported():
    imported = {_dist(name) for tree in SOURCES.values() for name in _imports(ast.walk(tree))}
    imported |= {_dist(module) for tree in SOURCES.values() for module, _ in _require_calls(tree)}
    unused = DECLARED - imported - set(NOT_IMPORTED)
    assert not unused, f"declared in pyproject.toml but imported nowhere in flash/: {sorted(unused)}"


def test_all_and_test_extras_cover_every_runtime_extra():
    every = set().union(*(_requirements(extra) for extra in RUNTIME_EXTRAS if extra != "all"))
    assert every <= _requirements("all")
    assert _requirements("all") <= _requirements("test")


def test_version_and_name_have_one_source():
    assert PYPROJECT["project"]["name"] == DISTRIBUTION
    assert "version" in PYPROJECT["project"]["dynamic"] and "version" not in PYPROJECT["project"]
    assert PYPROJECT["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "flash._version.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+((a|b|rc)\d+)?(\.dev\d+)?", flash.__version__)
    assert install_hint("audio") == f'pip install "{DISTRIBUTION}[audio]"'
    assert (ROOT / "flash" / "py.typed").is_file()


def test_cli_prints_the_version():
    result = subprocess.run([sys.executable, "-m", "flash", "--version"], capture_output=True, text=True, timeout=300,
                            check=True)
    assert result.stdout.strip() == f"flash {flash.__version__}"
