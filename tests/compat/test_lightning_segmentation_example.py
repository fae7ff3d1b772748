"""Lightning Flash 0.8.2's semantic segmentation example (``examples/semantic_segmentation.py``), run as written.

As for the other examples (``test_lightning_examples.py``), only ``https://`` becomes a ``file://`` URL of a
folder holding a tiny archive in the CARLA data's layout: ``CameraRGB/`` photos and ``CameraSeg/`` RGB masks
with the class index in the red channel (21 classes). The example's ``mobilenetv3_large_100`` encoder is
registered to a tiny random timm encoder in the registry the real name resolves through.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from .test_lightning_examples import run_example

CARLA = "github.com/ongchinkiat/LyftPerceptionChallenge/releases/download/v0.1"
NAMES = [f"F{i}-1.png" for i in range(58, 68)]  # the example predicts F61-1.png .. F63-1.png


def carla(remote: Path, work: Path) -> None:
    """Ten 48x64 scenes: a road (class 7) under a sky (class 0) with a car (class 10) and a pole (class 5)."""
    from PIL import Image

    rng = np.random.default_rng(0)
    colours = {0: (70, 130, 180), 5: (153, 153, 153), 7: (128, 64, 128), 10: (0, 0, 142)}
    for name in NAMES:
        mask = np.zeros((48, 64), dtype=np.uint8)
        mask[24:] = 7
        left = int(rng.integers(0, 44))
        mask[28:40, left : left + 18] = 10
        mask[8:30, int(rng.integers(0, 60)) :][:, :3] = 5
        lookup = np.zeros((256, 3), dtype=np.int64)
        for cls, colour in colours.items():
            lookup[cls] = colour
        image = np.clip(lookup[mask] + rng.integers(-10, 11, (48, 64, 3)), 0, 255).astype(np.uint8)
        seg = np.zeros((48, 64, 3), dtype=np.uint8)
        seg[..., 0] = mask  # CARLA: the class in the red channel
        for folder, array in (("CameraRGB", image), ("CameraSeg", seg)):
            (work / "carla" / folder).mkdir(parents=True, exist_ok=True)
            Image.fromarray(array).save(work / "carla" / folder / name)
    archive = remote / CARLA / "carla-capture-20180513A.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as out:  # the archive's top level holds CameraRGB/ and CameraSeg/
        for path in sorted((work / "carla").rglob("*")):
            out.write(path, path.relative_to(work / "carla").as_posix())


def tiny_encoder(*, pretrained=False, **kwargs):
    from flash.image.segmentation.backbones import Encoder

    return Encoder("tu-test_efficientnet", None)


@pytest.fixture(autouse=True)
def _quiet(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("FLASH_CACHE", str(tmp_path / "flash_cache"))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow
def test_semantic_segmentation(tmp_path, monkeypatch):
    """Three epochs of 9 images at 256x256 (the example's settings), about a minute on one CPU core."""
    from flash.image.segmentation.backbones import SEGMENTATION_BACKBONES

    with SEGMENTATION_BACKBONES.temporarily("mobilenetv3_large_100", tiny_encoder):
        ns = run_example("semantic_segmentation.py", tmp_path, monkeypatch, carla)
        from flash.image import SemanticSegmentation

        reloaded = SemanticSegmentation.load_from_checkpoint("semantic_segmentation_model.pt")  # the tiny encoder
    assert ns["trainer"].current_epoch == 3 and ns["model"].num_classes == 21
    assert all(not p.requires_grad for p in ns["model"].backbone.parameters())  # strategy="freeze"
    logits = [item for batch in ns["predictions"] for item in batch]  # no output=: per-image logits
    assert [tuple(item.shape) for item in logits] == [(21, 48, 64)] * 3  # at the images' own size, not 256x256
    mask = reloaded.predict("data/CameraRGB/F61-1.png", output="classes")
    assert mask.shape == (48, 64) and mask.max() < 21
