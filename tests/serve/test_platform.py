"""flash/serve works for every task through the task entries: it names no task, and its modules import no cycle.

Also: ``export`` refuses an output it cannot write, names the path and the fix, and leaves no partial file.
"""

from __future__ import annotations

import ast
import os
import re
from pathlib import Path

import pytest
import torch

from flash.errors import FlashError
from flash.tasks import ENTRIES

SERVE = Path(__file__).resolve().parents[2] / "flash" / "serve"


def _task_words() -> set[str]:
    """Every task name (as written with _ - or spaces), class name and module (dotted or as a path) of ENTRIES."""
    words: set[str] = set()
    for entry in ENTRIES:
        words |= {entry.name, entry.name.replace("_", "-"), entry.name.replace("_", " ")}
        for ref in (entry.model, entry.data, *entry.adapters.values()):
            module, _, attr = ref.partition(":")
            words |= {attr} if attr[:1].isupper() and not attr.isupper() else set()  # classes, not SERVE or export_spec
            parts = module.split(".")
            for end in range(2, len(parts) + 1):  # flash.image, flash.image.classification, ...model
                words |= {".".join(parts[:end]), "/".join(parts[:end])}
    return words - {""}


def test_serve_names_no_task_class_or_task_module():
    words = _task_words()
    assert {"image_classification", "ImageClassifier", "flash.image", "flash.audio.speech_recognition"} <= words
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(word)}(?!\w)" for word in sorted(words, key=len,
                                                                                                 reverse=True)),
                         re.IGNORECASE)
    files = sorted(p for p in SERVE.rglob("*") if p.is_file() and p.suffix in (".py", ".html", ".js", ".css"))
    assert any(p.suffix == ".html" for p in files)
    found = [f"{p.relative_to(SERVE)}:{n}: {m.group(0)!r}" for p in files
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) for m in pattern.finditer(line)]
    assert not found, f"flash/serve names tasks (ask the task's entry and adapters instead): {found}"


def _serve_imports(path: Path) -> set[str]:
    """The flash.serve modules ``path`` imports anywhere (module level or inside functions)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {name.removeprefix("flash.serve.") for name in names if name.startswith("flash.serve.")}


def test_serve_modules_import_no_cycle():
    modules = {p.stem: p for p in SERVE.glob("*.py") if p.stem != "__init__"}
    graph = {name: _serve_imports(path) & set(modules) - {name} for name, path in modules.items()}
    assert graph["onnx"] and graph["predictors"]  # the scan sees imports
    cycles = []

    def visit(name: str, path: list[str]) -> None:
        for target in sorted(graph[name]):
            if target in path:
                cycles.append(path[path.index(target):] + [target])
            else:
                visit(target, path + [target])

    for name in sorted(graph):
        visit(name, [name])
    assert not cycles, f"flash.serve modules import each other: {cycles}"


# ---------------------------------------------------------------------------------------- export refuses outputs
@pytest.fixture(scope="module")
def classifier():
    from flash.image import ImageClassifier

    torch.manual_seed(0)
    return ImageClassifier(num_classes=2, backbone="test_resnet", pretrained=False)


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


def test_export_into_a_file_says_so_and_writes_nothing(classifier, tmp_path):
    from flash.serve import export

    (tmp_path / "notes.txt").write_text("a file, not a folder")
    output = tmp_path / "notes.txt" / "model.onnx"
    with pytest.raises(FlashError, match=r"Cannot write the export to .*model\.onnx.*notes\.txt' is a file, not a "
                                         r"folder\. Nothing was written; choose an output inside a folder"):
        export(classifier, output, fmt="torchscript")
    assert _leftovers(tmp_path) == ["notes.txt"] and (tmp_path / "notes.txt").read_text() == "a file, not a folder"


def test_export_into_a_read_only_folder_says_so_and_writes_nothing(classifier, tmp_path, monkeypatch):
    import tempfile

    from flash.serve import export

    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if os.access(folder, os.W_OK):  # root ignores permissions: refuse the file as the kernel does for others
            def refuse(*args, **kwargs):
                raise PermissionError(13, "Permission denied", str(folder))

            monkeypatch.setattr(tempfile, "mkstemp", refuse)
        with pytest.raises(FlashError, match=r"read_only/model\.onnx.*the folder .*read_only' is not writable\. "
                                             r"Nothing was written; choose a folder you can write to"):
            export(classifier, folder / "model.onnx")
        assert _leftovers(folder) == []
    finally:
        folder.chmod(0o755)


def test_a_full_disk_leaves_no_partial_file_and_keeps_the_previous_export(classifier, tmp_path, monkeypatch):
    from flash.serve import export

    output = export(classifier, tmp_path / "model.ts.pt", fmt="torchscript")
    before = output.read_bytes()

    def full_disk(module, path, **kwargs):
        Path(path).write_bytes(b"half a model")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(torch.jit, "save", full_disk)
    with pytest.raises(FlashError, match=r"No space left on device\. Nothing was written; free disk space"):
        export(classifier, output, fmt="torchscript")
    assert _leftovers(tmp_path) == ["model.ts.pt"] and output.read_bytes() == before


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda entry: entry.name)
def test_every_task_provides_the_serving_adapters_with_their_interfaces(entry):
    serve = entry.adapter("serve")
    assert serve.input_kind in ("image", "text", "audio")
    assert all(callable(getattr(serve, name)) for name in ("settings", "decode", "encode"))
    assert callable(entry.adapter("export"))
    runner = entry.adapter("onnx")
    assert isinstance(runner, type) and isinstance(runner.default_output, str)
    assert callable(getattr(runner, "load", None)) and "__call__" in vars(runner)
    for name in ("serve", "export", "onnx"):
        module = entry.adapters[name].partition(":")[0]
        assert module.startswith(entry.model.rpartition(".")[0] + "."), f"{name} adapter outside the task: {module}"
