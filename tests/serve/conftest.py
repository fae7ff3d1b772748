"""One trained tiny checkpoint per task (session-scoped), and real servers started in subprocesses."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

import flash
from tests.offline import offline_single_thread  # noqa: F401 - autouse: offline, one thread

REPO = Path(__file__).resolve().parents[2]
LABELS = ["red", "green", "blue", "black", "white"]
COLORS = [(230, 30, 20), (30, 220, 40), (20, 40, 230), (10, 10, 10), (245, 245, 245)]


def write_images(folder: Path, count: int, *, seed: int = 0, size: int = 24) -> list[Path]:
    """PNG images of noisy colours, one colour name per file (``{i}_{colour}.png``)."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        k = i % len(COLORS)
        pixels = np.clip(np.array(COLORS[k]) + rng.integers(-60, 60, (size, size, 3)), 0, 255).astype(np.uint8)
        paths.append(folder / f"{i}_{LABELS[k]}.png")
        Image.fromarray(pixels).save(paths[-1])
    return paths


def _fit_and_save(model, datamodule, path: Path) -> Path:
    trainer = flash.Trainer(max_steps=2, max_epochs=1, logger=False, enable_checkpointing=False,
                            enable_progress_bar=False, num_sanity_val_steps=0, default_root_dir=str(path.parent))
    trainer.fit(model, datamodule=datamodule)
    trainer.save_checkpoint(path)
    return path


@pytest.fixture(scope="session")
def image_checkpoint(tmp_path_factory) -> Path:
    from flash.image import ImageClassificationData, ImageClassifier

    root = tmp_path_factory.mktemp("image")
    files = write_images(root / "train", 10)
    datamodule = ImageClassificationData.from_files(
        train_files=[str(f) for f in files], train_targets=[f.stem.split("_")[1] for f in files], batch_size=5,
        transform_kwargs={"image_size": (32, 32)})
    torch.manual_seed(0)
    model = ImageClassifier(labels=datamodule.labels, backbone="test_resnet", pretrained=False)
    return _fit_and_save(model, datamodule, root / "image_classification_model.pt")


@pytest.fixture(scope="session")
def text_checkpoint(tmp_path_factory) -> Path:
    from flash.text import TextClassificationData, TextClassifier
    from tests.text.helpers import build_tiny_bert, make_reviews

    root = tmp_path_factory.mktemp("text")
    texts, labels = make_reviews(8)
    datamodule = TextClassificationData.from_lists(train_data=texts, train_targets=labels, batch_size=4)
    torch.manual_seed(0)
    model = TextClassifier(labels=datamodule.labels, backbone=build_tiny_bert(root / "bert"), pretrained=False)
    return _fit_and_save(model, datamodule, root / "text_classification_model.pt")


@pytest.fixture(scope="session")
def detection_checkpoint(tmp_path_factory) -> Path:
    from flash.image import ObjectDetectionData, ObjectDetector
    from flash.image.detection.demo import write_shapes

    root = tmp_path_factory.mktemp("detection")
    annotations = write_shapes(root / "train", num_images=4, seed=0, size=(48, 64))
    datamodule = ObjectDetectionData.from_coco(train_folder=str(root / "train"), train_ann_file=str(annotations),
                                               batch_size=2, transform_kwargs={"image_size": 64})
    torch.manual_seed(0)
    model = ObjectDetector(labels=datamodule.labels, head="fcos", backbone="resnet18_fpn", pretrained=False,
                           image_size=64, threshold=0.0)
    return _fit_and_save(model, datamodule, root / "object_detection_model.pt")


@pytest.fixture(scope="session")
def speech_checkpoint(tmp_path_factory) -> Path:
    from flash.audio import SpeechRecognizer
    from flash.audio.speech_recognition.demo import demo_datamodule

    root = tmp_path_factory.mktemp("speech")
    torch.manual_seed(0)
    model = SpeechRecognizer("tiny-wav2vec2-ctc", learning_rate=3e-3)
    return _fit_and_save(model, demo_datamodule(batch_size=4), root / "speech_recognition_model.pt")


@pytest.fixture(scope="session")
def speech_files() -> list[str]:
    from flash.audio.speech_recognition.demo import demo_rows

    return [row["file"] for row in demo_rows()[:6]]


# ---------------------------------------------------------------------------------------- servers
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``flash serve`` in a subprocess; its cwd and TMPDIR are empty folders we can inspect afterwards."""

    def __init__(self, checkpoint: Path, root: Path, *args: str, api: bool = False) -> None:
        """``api=True``: start it as ``Task.load_from_checkpoint(checkpoint).serve(port=...)`` instead of the CLI."""
        self.port, self.cwd, self.tmp = free_port(), root / "cwd", root / "tmp"
        self.cwd.mkdir(parents=True)
        self.tmp.mkdir(parents=True)
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "TMPDIR": str(self.tmp), "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
        self.log = open(root / "server.log", "w+")
        command = ["-m", "flash", "serve", "--checkpoint", str(checkpoint), "--port", str(self.port), *args]
        if api:
            command = ["-c", "import sys; from flash.core.task import Task; "
                             "Task.load_from_checkpoint(sys.argv[1]).serve(port=int(sys.argv[2]))", str(checkpoint),
                       str(self.port)]
        self.process = subprocess.Popen([sys.executable, *command], cwd=self.cwd, env=env, stdout=self.log,
                                        stderr=subprocess.STDOUT)

    def wait(self, timeout: float = 300) -> Server:
        deadline = time.monotonic() + timeout  # a safety net for a very slow machine, not a timing assertion
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flash serve exited with {self.process.returncode}:\n{self.output()}")
            try:
                self.get("/health")
                self.files_at_start = self.files_at_start if hasattr(self, "files_at_start") else self.files()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"flash serve did not answer within {timeout} s:\n{self.output()}")

    def files(self) -> list[str]:
        """What is in the server's working folder and TMPDIR (onnxruntime writes a ``.ses`` id file at start-up)."""
        return sorted(str(p.relative_to(self.cwd.parent)) for folder in (self.cwd, self.tmp) for p in folder.rglob("*"))

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-5000:]

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=300) as response:
            return json.loads(response.read())

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        return self.process.wait(timeout=300)


@pytest.fixture(scope="session")
def start_server(tmp_path_factory):
    """``start_server(checkpoint, *flags)`` -> a started (not yet waited for) Server; all stop at the end."""
    started: list[Server] = []

    def start(checkpoint: Path, *args: str, api: bool = False) -> Server:
        started.append(Server(checkpoint, tmp_path_factory.mktemp("server"), *args, api=api))
        return started[-1]

    yield start
    for server in started:
        server.stop()
        server.log.close()
