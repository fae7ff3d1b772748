import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from .conftest import run_flash, write_class_folders


@pytest.mark.parametrize("args", [["--help"], ["train", "--help"], ["predict", "--help"], ["list", "--help"]])
def test_help_imports_no_torch_and_shows_an_example(args, tmp_path):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "flash", *args], capture_output=True,
                            text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert "torch" not in imported and "numpy" not in imported
    assert "flash " in result.stdout and "Example" in result.stdout


def test_console_script_matches_python_m(tmp_path):
    exe = shutil.which("flash")
    if exe is None:
        pytest.skip("the flash console script is not on PATH")
    a = subprocess.run([exe, "list", "tasks"], capture_output=True, text=True, cwd=tmp_path)
    b = run_flash("list", "tasks", cwd=tmp_path)
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout
    assert a.stdout.split()[::1][0] == "image_classification"


@pytest.mark.slow
def test_readme_first_command_trains_on_builtin_demo_data(tmp_path):
    """`flash train image_classification`, exactly as the README says, offline, on real digits."""
    result = run_flash("train", "image_classification", cwd=tmp_path, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "built-in image_classification demo data" in out
    accuracy = float(out.split("val_accuracy=")[1].split(",")[0].split()[0])
    assert accuracy > 0.8, out
    checkpoint = next(line.split(": ", 1)[1] for line in out.splitlines() if line.startswith("Checkpoint: "))
    assert (tmp_path / checkpoint).is_file() or __import__("pathlib").Path(checkpoint).is_file()


def test_train_detects_class_folders_and_predicts(trained_checkpoint, tmp_path):
    root = trained_checkpoint.parent
    images = write_class_folders(tmp_path / "new", per_class=2)
    result = run_flash("predict", "--checkpoint", str(trained_checkpoint), str(images), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 4
    predicted = {line.split("\t")[0].split("/")[-2]: line.split("\t")[1] for line in lines}
    assert set(predicted.values()) <= {"red", "blue"}
    single = run_flash("predict", "--checkpoint", str(trained_checkpoint), str(images / "red" / "0.png"), cwd=tmp_path)
    assert single.stdout.strip().split("\t")[1] == [line for line in lines if "red/0.png" in line][0].split("\t")[1]
    # json and csv outputs, and a CSV column as input
    assert run_flash("predict", "--checkpoint", str(trained_checkpoint), str(images), "--output", "p.json",
                     cwd=tmp_path).returncode == 0
    rows = json.loads((tmp_path / "p.json").read_text())
    assert len(rows) == 4 and rows[0]["prediction"] in ("red", "blue")
    (tmp_path / "list.csv").write_text("file\nnew/red/0.png\nnew/blue/1.png\n")
    result = run_flash("predict", "--checkpoint", str(trained_checkpoint), "list.csv", "--column", "file",
                       "--output", "p.csv", "--output-type", "probabilities", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    with open(tmp_path / "p.csv") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 2 and abs(sum(json.loads(table[0]["prediction"])) - 1) < 1e-5
    assert (root / "data").is_dir()


def test_train_says_what_it_detected(trained_checkpoint):
    # the fixture's run printed what it found; rerun --print_config to check config plumbing cheaply
    result = run_flash("train", "image_classification", "--trainer.max_epochs", "3", "--print_config",
                       cwd=trained_checkpoint.parent)
    assert result.returncode == 0 and "max_epochs: 3" in result.stdout


def test_train_with_yaml_config_and_detection_message(tmp_path):
    write_class_folders(tmp_path / "data", per_class=4)
    (tmp_path / "run.yaml").write_text(
        "model:\n  backbone: test_resnet\n  pretrained: false\ntrainer:\n  max_steps: 2\n"
        "data:\n  batch_size: 4\n  transform_kwargs: {image_size: [32, 32]}\nfinetune:\n  strategy: freeze\n")
    result = run_flash("train", "image_classification", "--data", "data", "--config", "run.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "a folder of 2 class folders (blue, red)" in result.stdout
    assert "ImageClassificationData.from_folders" in result.stdout
    assert "Checkpoint: " in result.stdout and "Logs: " in result.stdout


def test_list_commands(tmp_path):
    tasks = run_flash("list", "tasks", cwd=tmp_path)
    assert tasks.returncode == 0
    assert [line.split()[0] for line in tasks.stdout.splitlines()] == [
        "image_classification", "object_detection", "text_classification", "speech_recognition",
        "semantic_segmentation"]
    backbones = run_flash("list", "backbones", "image_classification", "resnet1*", cwd=tmp_path)
    names = backbones.stdout.split()
    assert backbones.returncode == 0 and "timm:resnet18" in names and all("resnet1" in n for n in names)
    heads = run_flash("list", "heads", "object_detection", cwd=tmp_path)
    assert heads.returncode == 0 and "faster_rcnn" in heads.stdout and "retinanet" in heads.stdout


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_matches_pytorch(trained_checkpoint, tmp_path, fmt):
    from flash.image import ImageClassifier

    out = tmp_path / f"model.{fmt}"
    result = run_flash("export", "--checkpoint", str(trained_checkpoint), "--format", fmt, "--output", str(out),
                       cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    model = ImageClassifier.load_from_checkpoint(trained_checkpoint)
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = model(x).numpy()
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        got = session.run(None, {"input": x.numpy()})[0]
    else:
        got = torch.jit.load(str(out))(x).detach().numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_export_unsupported_task_is_a_clear_error(tmp_path):
    from flash.serve.export import example_input

    with pytest.raises(Exception, match="cannot be exported yet"):
        example_input(torch.nn.Linear(2, 2))


@pytest.mark.parametrize(
    "args, code, message",
    [
        (["predict", "--checkpoint", "missing.pt", "x.png"], 1, "Checkpoint file not found: 'missing.pt'"),
        (["train", "image_clasification"], 2, "Did you mean 'image_classification'"),
        (
            [
                "train",
                "image_classification",
                "--data",
                "data",
                "--model.backbone",
                "resnet81",
                "--model.pretrained",
                "false",
            ],
            2,
            "Did you mean 'resnet18'",
        ),
        (
            ["train", "image_classification", "--data", "data", "--model.bakbone", "resnet18"],
            2,
            "Did you mean --model.backbone",
        ),
        (["train", "image_classification", "--data", "nowhere"], 1, "--data 'nowhere' does not exist"),
        (["list", "backbones"], 2, "needs a task"),
    ],
)
def test_errors_are_one_clear_line_without_traceback(tmp_path, args, code, message):
    """Bad files exit 1 with one line; wrong arguments exit 2 with the usage, then one line."""
    write_class_folders(tmp_path / "data", per_class=2)
    result = run_flash(*args, cwd=tmp_path)
    assert result.returncode == code
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1] and lines[-1].startswith(f"flash {args[0]}: error: ")
    assert "Traceback" not in result.stderr
    assert len(lines) == 1 if code == 1 else lines[0].startswith(f"usage: flash {args[0]}")


def test_debug_shows_traceback(tmp_path):
    result = run_flash("--debug", "predict", "--checkpoint", "missing.pt", "x.png", cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" in result.stderr


def test_predict_on_unreadable_input_and_wrong_checkpoint(trained_checkpoint, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not really a png")
    result = run_flash("predict", "--checkpoint", str(trained_checkpoint), str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "bad.png" in result.stderr and "Traceback" not in result.stderr
    plain = tmp_path / "plain.pt"
    from flash.engine.checkpoint import save_checkpoint

    save_checkpoint({"state_dict": {}}, plain)
    result = run_flash("predict", "--checkpoint", str(plain), str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "not a checkpoint of a flash task" in result.stderr
    evil = tmp_path / "evil.pt"
    torch.save({"x": torch.nn.Linear(1, 1)}, evil)  # a pickled module: refused by weights_only loading
    result = run_flash("predict", "--checkpoint", str(evil), str(bad), cwd=tmp_path)
    assert result.returncode == 1 and "refused" in result.stderr


@pytest.mark.parametrize("args", [["list", "tasks"], ["list", "backbones", "image_classification", "resnet*"]])
def test_a_closed_pipe_ends_quietly(args, tmp_path):
    """`flash list ... | head -1`: when the reader has gone before flash writes, flash ends like a Unix tool
    (status 141, the shell's code for SIGPIPE) with no traceback. The reader is closed first, so no race."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    result = subprocess.run([sys.executable, "-m", "flash", *args], stdout=write_end, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path, timeout=600, env=env)
    os.close(write_end)
    assert result.returncode == 141, result.stderr
    assert "Traceback" not in result.stderr and "BrokenPipe" not in result.stderr, result.stderr


def test_model_file_holds_what_prediction_needs_and_the_resume_checkpoint_the_rest(trained_checkpoint):
    from flash.image import ImageClassifier

    model_file = torch.load(trained_checkpoint, map_location="cpu", weights_only=True)
    assert "optimizer_states" not in model_file and "lr_schedulers" not in model_file
    assert model_file["state_dict"] and model_file["task"]["input_transform"]
    resume = sorted(trained_checkpoint.parent.rglob("checkpoints/*.ckpt"))
    assert resume, list(trained_checkpoint.parent.rglob("*"))
    full = torch.load(resume[-1], map_location="cpu", weights_only=True)
    assert full["optimizer_states"] and full["state_dict"].keys() == model_file["state_dict"].keys()
    probe = torch.rand(2, 32, 32, 3).numpy()
    a, b = ImageClassifier.load_from_checkpoint(trained_checkpoint), ImageClassifier.load_from_checkpoint(resume[-1])
    assert a.predict(probe, output="logits") == b.predict(probe, output="logits")


def test_cache_clear_removes_the_cached_features(tmp_path, monkeypatch, capsys):
    from flash.cli import main

    monkeypatch.setenv("FLASH_CACHE", str(tmp_path / "cache"))
    features = tmp_path / "cache" / "features" / "0123abcd"
    features.mkdir(parents=True)
    (features / "features.f32").write_bytes(b"\0" * 2**20)
    assert main(["cache", "clear"]) == 0
    assert not (tmp_path / "cache" / "features").exists()
    assert f"Removed 1.0 MiB of cached features from {tmp_path / 'cache' / 'features'}" in capsys.readouterr().out
    assert main(["cache", "clear"]) == 0  # nothing left: still fine
    assert "Removed 0.0 MiB" in capsys.readouterr().out
    assert main(["cache", "wipe"]) == 2  # an unknown action: the usage line


def test_inspect_names_every_task_that_could_read_ambiguous_data(tmp_path, capsys):
    """images/ + masks/ is both a folder of two class folders and a segmentation folder: the user picks."""
    import numpy as np
    from PIL import Image

    from flash.cli import main

    for folder, shape in (("images", (8, 8, 3)), ("masks", (8, 8))):
        (tmp_path / folder).mkdir()
        for i in range(3):
            Image.fromarray(np.zeros(shape, np.uint8)).save(tmp_path / folder / f"{i}.png")
    assert main(["data", "inspect", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "image_classification (" in err and "semantic_segmentation (" in err and "--task" in err
    assert main(["data", "inspect", str(tmp_path), "--task", "semantic_segmentation"]) == 0
