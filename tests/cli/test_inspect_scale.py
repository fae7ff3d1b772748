"""``flash data inspect`` at scale: one read per file, no torch to list or check images, a lazy walk, progress."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from flash.cli import main
from flash.core.reporting.inspection import read_class_folders, walk_files
from flash.image.io import is_image_file
from tests.cli.conftest import write_class_folders

# Runs `flash data inspect` in a fresh interpreter (this one has torch loaded already) and reports, through an
# audit hook, how many times each file under the data folder was opened, and which heavy modules were imported.
_PROBE = """
import json, os, sys
root = os.path.realpath(sys.argv[1])
opened = {}
def hook(event, args):
    if event == "open" and isinstance(args[0], str) and os.path.realpath(args[0]).startswith(root + os.sep):
        name = os.path.relpath(os.path.realpath(args[0]), root)
        opened[name] = opened.get(name, 0) + 1
sys.addaudithook(hook)
from flash.cli import main
code = main(["data", "inspect", sys.argv[1]])
print(json.dumps({"code": code, "opened": opened, "torch": "torch" in sys.modules,
                  "torchvision": "torchvision" in sys.modules}))
"""


def test_each_image_is_opened_once_and_torch_is_not_imported(tmp_path):
    data = write_class_folders(tmp_path / "data", per_class=4)
    (data / "red" / "notes.txt").write_text("not an image: never opened")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", _PROBE, str(data)], capture_output=True, text=True, timeout=300,
                         env=env)
    assert run.returncode == 0, run.stderr
    probe = json.loads(run.stdout.strip().splitlines()[-1])
    images = sorted(os.path.relpath(f, data) for f in walk_files(str(data)) if is_image_file(f))
    assert probe["code"] == 0 and len(images) == 8
    assert probe["opened"] == {name: 1 for name in images}  # one open per image, none for notes.txt
    assert not probe["torch"] and not probe["torchvision"]


def test_class_folders_are_walked_lazily_in_sorted_order(tmp_path):
    data = write_class_folders(tmp_path / "data", per_class=3)
    (data / "red" / "nested").mkdir()
    write_class_folders(data / "red" / "nested", per_class=1)  # red/nested/{blue,red}/0.png, deeper
    items = read_class_folders("train", data, accept=is_image_file)
    assert not isinstance(items, list)  # an iterator: nothing read yet beyond the class folder names
    got = [(item.label, item.path) for item in items]
    expected = [(d.name, str(f)) for d in sorted(data.iterdir()) for f in sorted(d.rglob("*"))
                if f.is_file() and is_image_file(f)]
    assert got == expected and len(got) == 8


def test_progress_on_stderr_only_when_asked_or_a_terminal(tmp_path, capsys):
    data = write_class_folders(tmp_path / "data", per_class=3)
    assert main(["data", "inspect", str(data)]) == 0
    assert capsys.readouterr().err == ""  # stderr is not a terminal here
    assert main(["data", "inspect", str(data), "--progress"]) == 0
    captured = capsys.readouterr()
    assert "Inspecting: 6 samples" in captured.err and "Inspecting" not in captured.out


def test_a_bad_file_is_named_with_the_fix(tmp_path, capsys):
    data = write_class_folders(tmp_path / "data", per_class=5)
    (data / "blue" / "broken.jpg").write_bytes(b"\xff\xd8\xff not really a JPEG")
    (data / "red" / "empty.png").write_bytes(b"")
    assert main(["data", "inspect", str(data)]) == 1
    out = capsys.readouterr().out
    for name in ("broken.jpg", "empty.png"):
        line = next(line for line in out.splitlines() if name in line)
        assert line.startswith("ERROR   Cannot read image") and "Remove or replace" in line, line
    assert "image sizes: 10 values" in out  # the good ones are still measured
