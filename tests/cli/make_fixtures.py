"""Write tests/cli/fixtures/image_classifier_v<N>.pt: one small checkpoint per checkpoint format version.

Run once per new format version (python tests/cli/make_fixtures.py); keep the old files, so every
version a user may hold stays loadable (or fails with a message naming both versions).
"""

from pathlib import Path

import numpy as np
import torch

import flash
from flash.engine.checkpoint import FORMAT_VERSION
from flash.image import ImageClassificationData, ImageClassifier

HERE = Path(__file__).resolve().parent / "fixtures"


def main() -> None:
    flash.seed_everything(0)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (8, 12, 12, 3), dtype=np.uint8)
    datamodule = ImageClassificationData.from_numpy(train_data=images, train_targets=["a", "b"] * 4, batch_size=4,
                                                    transform_kwargs={"image_size": (16, 16)})
    model = ImageClassifier(backbone="test_efficientnet", pretrained=False, labels=datamodule.labels)
    trainer = flash.Trainer(max_steps=1, logger=False, enable_checkpointing=False, accelerator="cpu")
    trainer.fit(model, datamodule=datamodule)
    model = model.half().float()  # keep the file small and the values exactly representable
    HERE.mkdir(exist_ok=True)
    trainer.save_checkpoint(HERE / f"image_classifier_v{FORMAT_VERSION}.pt", weights_only=True)
    np.save(HERE / "probe_images.npy", images[:2])
    expected = model.eval().predict(images[:2], output="probabilities")
    (HERE / f"image_classifier_v{FORMAT_VERSION}.expected.txt").write_text(repr(expected))
    print("wrote", HERE, torch.__version__)


if __name__ == "__main__":
    main()
