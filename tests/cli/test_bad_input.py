"""No `flash` command prints a traceback for a user error (issue 32's rule), checked row by row.

Each row runs `flash.cli.main([...])` in process and says the exit status and the culprit its message must name:
- a wrong argument exits 2: the command's usage, then one `flash <command>: error: ...` line;
- bad data or files exit 1 with that one line only;
- and no row leaves a file behind (the folders are compared before and after).

Grow the table with every bug found. Every sub-command the parser has gets at least the unknown-flag row.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

from flash.cli import _parser, main
from flash.tasks import ENTRIES

from . import fake_task

FIXTURES = Path(__file__).resolve().parent / "fixtures"
TASK, OTHER = ENTRIES[0].name, ENTRIES[1]  # the fixture checkpoint's task, and another one
TINY = ["--model.backbone", "test_resnet", "--model.pretrained", "false"]
FULL_DISK = Path("/dev/full")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, str]:
    """Good and bad files, by name (rows say ``{name}``)."""
    from PIL import Image

    root = tmp_path_factory.mktemp("bad_input")
    checkpoint = torch.load(FIXTURES / "image_classifier_v1.pt", weights_only=True)
    torch.save(checkpoint, root / "model.pt")
    other = dict(checkpoint, task={**checkpoint["task"], "class": OTHER.model,
                                   "hyper_parameters": {**checkpoint["task"]["hyper_parameters"], "backbone": "other"}})
    torch.save(other, root / "other_task.pt")
    data = (FIXTURES / "image_classifier_v1.pt").read_bytes()
    (root / "truncated.pt").write_bytes(data[: len(data) // 2])
    (root / "garbage.pt").write_bytes(os.urandom(2048))
    torch.save({"weights": torch.zeros(2)}, root / "plain.pt")  # a torch file, not a flash checkpoint
    (root / "broken.onnx").write_bytes(b"\x08\x07garbage that is not a protobuf" * 10)
    for name in ("empty.pt", "empty.onnx", "empty.csv", "empty.png"):
        (root / name).write_bytes(b"")
    (root / "folder").mkdir()
    (root / "file.txt").write_text("hello\n")
    (root / "bad.png").write_bytes(b"not really a png")
    Image.fromarray(np.load(FIXTURES / "probe_images.npy")[0]).save(root / "image.png")
    (root / "bad.yaml").write_text("trainer: [unclosed\n")
    (root / "list.yaml").write_text("- a\n- b\n")
    (root / "inputs.csv").write_text("path\nimage.png\n")
    fake_task.save(root / "fake.pt")
    paths = {p.stem if p.suffix in (".pt", ".txt", ".yaml") else p.name: str(p) for p in root.iterdir()}
    return {**paths, "root": str(root), "missing": str(root / "missing.pt"), "missing.onnx": str(root / "no.onnx")}


P = ["predict", "--checkpoint", "{model}", "{image.png}"]  # a good prediction command, to spoil one argument of
S = ["serve", "--checkpoint"]
T = ["tune", TASK]
ROWS: list[tuple[list[str], int, str]] = [
    # train
    (["train"], 2, "task"),
    (["train", "no_such_task"], 2, "'no_such_task'"),
    (["train", TASK, "--data", "{missing}"], 1, "{missing}"),
    (["train", TASK, "--data", "{empty.csv}"], 1, "{empty.csv}"),
    (["train", TASK, "--data", "{file}"], 1, "{file}"),
    (["train", TASK, "--data", "{folder}"], 1, "{folder}"),
    (["train", TASK, "--config", "{missing}"], 1, "{missing}"),
    (["train", TASK, "--config", "{folder}"], 1, "{folder}"),
    (["train", TASK, "--config", "{bad}"], 1, "{bad}"),
    (["train", TASK, "--config", "{list}"], 1, "{list}"),
    (["train", TASK, "--seed", "abc"], 2, "--seed abc"),
    (["train", TASK, "--lr", "fast"], 2, "--lr fast"),
    (["train", TASK, "--bogus"], 2, "--bogus"),
    (["train", TASK, "--checkpoint", "{file}/model.pt"], 1, "{file}"),
    (["train", TASK, "--checkpoint", "{folder}"], 1, "{folder}"),
    (["train", TASK, "--resume", "{missing}"], 1, "{missing}"),
    (["train", TASK, "--resume", "{garbage}"], 1, "{garbage}"),
    (["train", TASK, "--resume", "{truncated}"], 1, "{truncated}"),
    (["train", TASK, *TINY, "--trainer.max_epochs", "abc"], 2, "max_epochs"),
    (["train", TASK, *TINY, "--resume", "{other_task}"], 1, f"holds a run of {OTHER.name} (backbone 'other')"),
    (["train", TASK, *TINY, "--resume", "{model}"], 1, "backbone 'test_efficientnet', but this run builds"),
    (["train", TASK, "--model.backbone", "test_efficientnet", "--model.pretrained", "false", "--resume", "{model}"], 1,
     "holds weights of other shapes than this run's model"),  # 2 classes in the file, 10 in the demo
    # predict
    (["predict", "{image.png}"], 2, "--checkpoint"),
    (["predict", "--checkpoint", "{missing}", "{image.png}"], 1, "{missing}"),
    (["predict", "--checkpoint", "{folder}", "{image.png}"], 1, "{folder}"),
    (["predict", "--checkpoint", "{empty}", "{image.png}"], 1, "{empty}"),
    (["predict", "--checkpoint", "{truncated}", "{image.png}"], 1, "{truncated}"),
    (["predict", "--checkpoint", "{garbage}", "{image.png}"], 1, "{garbage}"),
    (["predict", "--checkpoint", "{plain}", "{image.png}"], 1, "{plain}"),
    (["predict", "--checkpoint", "{broken.onnx}", "{image.png}"], 1, "{broken.onnx}' is not a readable ONNX model"),
    (["predict", "--checkpoint", "{empty.onnx}", "{image.png}"], 1, "{empty.onnx}' is not a readable ONNX model"),
    (["predict", "--checkpoint", "{missing.onnx}", "{image.png}"], 1, "{missing.onnx}"),
    (["predict", "--checkpoint", "{model}", "{missing}"], 1, "{missing}"),
    (["predict", "--checkpoint", "{model}", "{bad.png}"], 1, "{bad.png}"),
    (["predict", "--checkpoint", "{model}", "{empty.png}"], 1, "{empty.png}"),
    (["predict", "--checkpoint", "{model}", "{folder}"], 1, "{folder}"),
    (["predict", "--checkpoint", "{model}"], 1, "No inputs given"),
    ([*P, "--batch-size", "abc"], 2, "--batch-size"),
    ([*P, "--batch-size", "0"], 2, "--batch-size"),
    ([*P, "--device", "toaster"], 2, "--device 'toaster'"),
    ([*P, "--output-type", "shapes"], 2, "output='shapes'"),
    ([*P, "--precision", "half-ish"], 2, "precision='half-ish'"),
    ([*P, "--output", "out.txt"], 2, "--output out.txt"),
    ([*P, "--output", "{file}/out.csv"], 1, "{file}"),
    ([*P, "--output", "{folder}"], 2, f"the {TASK} task cannot write its predictions as files"),
    ([*P, "--output", "out.json", "--resume"], 2, "--resume"),
    (["predict", "--checkpoint", "{model}", "{folder}", "--column", "path"], 1, "{folder}"),
    (["predict", "--checkpoint", "{model}", "{file}", "--column", "path"], 1, "{file}' has no column 'path'"),
    (["predict", "--checkpoint", "{model}", "{empty.csv}", "--column", "path"], 1, "{empty.csv}' has no column"),
    (["predict", "--checkpoint", "{fake}", "a text", "--output", "{root}/full.csv"], 1, "full.csv': the disk is full"),
    # export
    (["export"], 2, "--checkpoint"),
    (["export", "--checkpoint", "{missing}"], 1, "{missing}"),
    (["export", "--checkpoint", "{folder}"], 1, "{folder}"),
    (["export", "--checkpoint", "{empty}"], 1, "{empty}"),
    (["export", "--checkpoint", "{garbage}"], 1, "{garbage}"),
    (["export", "--checkpoint", "{model}", "--format", "pickle"], 2, "--format"),
    (["export", "--checkpoint", "{model}", "--output", "{file}/model.onnx"], 1, "{file}"),
    (["export", "--checkpoint", "{model}", "--output", "{folder}"], 1, "{folder}"),
    # serve: argument and file errors only, found before it loads a model or binds
    ([*S, "{missing}"], 1, "{missing}"),
    ([*S, "{folder}"], 1, "{folder}"),
    ([*S, "{empty}"], 1, "{empty}"),
    ([*S, "{garbage}"], 1, "{garbage}"),
    ([*S, "{broken.onnx}"], 1, "{broken.onnx}"),
    ([*S, "{empty.onnx}"], 1, "{empty.onnx}"),
    ([*S, "{model}", "--port", "http"], 2, "--port"),
    ([*S, "{model}", "--port", "70000"], 2, "--port"),
    ([*S, "{model}", "--max-batch-size", "0"], 2, "--max-batch-size"),
    ([*S, "{model}", "--max-queue", "0"], 2, "--max-queue"),
    ([*S, "{model}", "--device", "toaster"], 2, "--device 'toaster'"),
    # tune: every search option named as typed
    (["tune", "no_such_task"], 2, "'no_such_task'"),
    ([*T, "--lr", "1:0.1"], 2, "--lr 1:0.1"),
    ([*T, "--lr", "0:0.1"], 2, "--lr 0:0.1"),
    ([*T, "--lr", "fast"], 2, "--lr fast"),
    ([*T, "--epochs", "5:1"], 2, "--epochs 5:1"),
    ([*T, "--epochs", "0:2"], 2, "--epochs 0:2"),
    ([*T, "--epochs", "one:two"], 2, "--epochs one:two"),
    ([*T, "--batch_sizes", "8,big"], 2, "--batch_sizes 8,big"),
    ([*T, "--batch_sizes", "0,8"], 2, "--batch_sizes 0,8"),
    ([*T, "--batch_sizes", ","], 2, "--batch_sizes ,"),
    ([*T, "--backbones", ","], 2, "--backbones ,"),
    ([*T, "--strategies", "freez"], 2, "--strategies freez"),
    ([*T, "--strategies", "freeze_unfreeze:x"], 2, "--strategies freeze_unfreeze:x"),
    ([*T, "--trials", "0"], 2, "--trials"),
    ([*T, "--jobs", "0"], 2, "--jobs"),
    ([*T, "--time", "30x"], 2, "--time 30x"),
    ([*T, "--direction", "up"], 2, "--direction"),
    ([*T, "--seed", "x"], 2, "--seed"),
    ([*T, "--run_dir", "{file}"], 1, "{file}"),
    ([*T, "--storage", "no database"], 2, "--storage 'no database'"),
    ([*T, "--config", "{missing}"], 1, "{missing}"),
    ([*T, "--data", "{missing}"], 1, "{missing}"),
    # list
    (["list"], 2, "what"),
    (["list", "everything"], 2, "everything"),
    (["list", "backbones"], 2, "needs a task"),
    (["list", "backbones", "no_such_task"], 2, "'no_such_task'"),
    # data inspect
    (["data"], 2, "inspect"),
    (["data", "inspect"], 2, "path"),
    (["data", "inspect", "{missing}"], 1, "{missing}"),
    (["data", "inspect", "{folder}"], 1, "{folder}"),
    (["data", "inspect", "{file}"], 1, "{file}"),
    (["data", "inspect", "{folder}", "--task", "no_such_task"], 2, "'no_such_task'"),
    (["data", "inspect", "{folder}", "--report", "{file}"], 1, "{file}"),
]
COMMANDS = sorted(name for name in _parser()[1] if " " not in name)
REQUIRED = {"train": [TASK], "tune": [TASK], "predict": ["--checkpoint", "{model}", "{image.png}"],
            "export": ["--checkpoint", "{model}"], "serve": ["--checkpoint", "{model}"], "list": ["tasks"],
            "data": ["inspect", "{folder}"]}
ROWS += [([command, *REQUIRED.get(command, []), "--no-such-flag"], 2, "--no-such-flag" if command in REQUIRED else "")
         for command in COMMANDS]  # a command added later (`flash cache`, ...) is covered by this row at least


def _tree(*folders: Path) -> set[tuple[str, int]]:
    return {(str(p), p.stat().st_size if p.is_file() else -1) for folder in folders for p in folder.rglob("*")
            if not p.is_symlink()}


@pytest.mark.parametrize("args, code, culprit", ROWS, ids=[" ".join(row[0]) for row in ROWS])
def test_bad_input_is_one_clear_line(args, code, culprit, files, tmp_path, monkeypatch, capsys):
    fake_task.install(monkeypatch)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("flash.serve.serve", _never_bind, raising=False)
    if "full.csv" in " ".join(args):
        if not FULL_DISK.exists():
            pytest.skip("no /dev/full on this system")
        (Path(files["root"]) / "full.csv").unlink(missing_ok=True)
        (Path(files["root"]) / "full.csv").symlink_to(FULL_DISK)
    argv, culprit = [_fill(a, files) for a in args], _fill(culprit, files)
    before = _tree(Path(files["root"]), tmp_path)

    assert main(argv) == code
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    lines = [line for line in err.splitlines() if line.strip()]
    command = "data inspect" if argv[0] == "data" and len(argv) > 1 and argv[1] == "inspect" else argv[0]
    assert culprit in lines[-1], err
    assert lines[-1].startswith(f"flash {command}: error: ") or lines[-1].startswith(f"flash {argv[0]}: error: ")
    if code == 1:
        assert len([line for line in lines if line.startswith("flash ")]) == 1 and "usage:" not in err, err
    else:
        assert "usage: flash" in err, err
    assert _tree(Path(files["root"]), tmp_path) == before, "a failed command left files behind"


def _fill(text: str, files: dict[str, str]) -> str:
    for name, path in files.items():
        text = text.replace("{" + name + "}", path)
    return text


def _never_bind(*args, **kwargs):
    raise AssertionError("flash serve got past its checks and would bind")


def test_every_command_has_rows():
    covered = {row[0][0] for row in ROWS if row[0][-1] != "--no-such-flag"}
    assert set(COMMANDS) - {"cache"} <= covered  # `flash cache` (when present) has the unknown-flag row


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into read-only folders")
def test_a_read_only_output_folder_is_named(files, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["export", "--checkpoint", files["model"], "--output", str(locked / "m.onnx")]) == 1
        assert f"the folder '{locked}' is not writable" in capsys.readouterr().err
    finally:
        locked.chmod(0o700)


def test_an_internal_error_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    def broken(args, extra):
        raise RuntimeError("something flash did not expect")

    monkeypatch.setattr("flash.cli.commands.run_list", broken)
    assert main(["list", "tasks"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "internal error: RuntimeError: something flash did not expect" in err
    assert "run with --debug for the traceback" in err
    for argv in (["--debug", "list", "tasks"], ["list", "tasks", "--debug"]):
        assert main(argv) == 1
        assert "Traceback" in capsys.readouterr().err


def test_export_on_a_full_disk_names_the_file_and_keeps_the_old_one(files, tmp_path, monkeypatch, capsys):
    import errno

    def full(model, output, *, fmt):
        Path(output).write_bytes(b"half a model")
        raise OSError(errno.ENOSPC, "No space left on device")

    import importlib

    monkeypatch.setattr(importlib.import_module("flash.serve.export"), "export", full)
    new, old = tmp_path / "new.onnx", tmp_path / "old.onnx"
    old.write_bytes(b"the previous export")
    for output in (new, old):
        assert main(["export", "--checkpoint", files["model"], "--output", str(output)]) == 1
        assert f"'{output}': the disk is full" in capsys.readouterr().err
    assert not new.exists() and old.read_bytes() == b"the previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.onnx"]
