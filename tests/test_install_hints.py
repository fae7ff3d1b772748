"""Every install hint names our distribution, ``flash-finetune``: ``flash`` on PyPI is an unrelated project.

The scan reads README.md, ARCHITECTURE.md, docs/, flash/, notebooks/, examples/ and benchmarks/ as text
(nothing is imported) and fails naming each file and line with ``pip install "flash[...]"`` or a bare
``pip install flash`` in it.
"""

from __future__ import annotations

import re
from pathlib import Path

from flash.errors import DISTRIBUTION, install_hint

ROOT = Path(__file__).resolve().parents[1]
SCANNED = ("README.md", "ARCHITECTURE.md", "docs", "flash", "notebooks", "examples", "benchmarks")
TEXT_SUFFIXES = {".py", ".md", ".rst", ".txt", ".ipynb", ".toml", ".cfg", ".sh", ".html", ".yaml", ".yml", ".json"}
WRONG = (
    re.compile(r"(?<![\w.-])flash\["),  # flash[serve] instead of flash-finetune[serve]
    re.compile(r"pip3? install\s+(?:-\S+\s+)*[\"']?flash(?![\w.-])"),  # pip install flash / pip install -U flash
)


def wrong_hints(paths: list[Path], root: Path) -> list[str]:
    """``"file:line: text"`` for every line of ``paths`` (files or folders) that names ``flash`` to pip."""
    found = []
    for top in paths:
        files = sorted(top.rglob("*")) if top.is_dir() else [top]
        for path in files:
            if not path.is_file() or path.suffix not in TEXT_SUFFIXES or "__pycache__" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                if any(pattern.search(line) for pattern in WRONG):
                    found.append(f"{path.relative_to(root)}:{number}: {line.strip()[:160]}")
    return found


def test_install_hints_name_flash_finetune():
    wrong = wrong_hints([ROOT / name for name in SCANNED if (ROOT / name).exists()], ROOT)
    assert not wrong, (
        f"Install hints must name the distribution {DISTRIBUTION!r} (e.g. pip install \"{DISTRIBUTION}[serve]\"); "
        "'flash' on PyPI is another project. Fix:\n" + "\n".join(wrong)
    )


def test_the_scan_finds_the_wrong_forms_and_passes_the_right_ones(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "a.md").write_text('ok: pip install "flash-finetune[plot]"\nbad: pip install "flash[plot]"\n')
    (tmp_path / "b.py").write_text("# pip install -U flash\nimport flash  # from flash import x\n"
                                   "# pip install flash-finetune\n")
    (tmp_path / "c.ipynb").write_text('{"source": ["!pip install flash[serve]"]}\n')
    found = wrong_hints([tmp_path / "docs", tmp_path / "b.py", tmp_path / "c.ipynb"], tmp_path)
    assert found == ['docs/a.md:2: bad: pip install "flash[plot]"', "b.py:1: # pip install -U flash",
                     'c.ipynb:1: {"source": ["!pip install flash[serve]"]}']
    assert not wrong_hints([tmp_path / "b.py"], tmp_path)[1:]  # "import flash" is not an install hint
    assert DISTRIBUTION in install_hint("plot")  # what require(...) tells users to run
