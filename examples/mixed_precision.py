"""Mixed precision: the same training in bf16 autocast (works on CPU and GPU; use "16-mixed" on older GPUs).

Run: python examples/mixed_precision.py   (FLASH_QUICK=1 for a smoke run)
"""

import os

import flash
from flash.image import ImageClassificationData, ImageClassifier
from flash.image.classification.demo import load_digits

QUICK = os.environ.get("FLASH_QUICK") == "1"
images, targets = load_digits()
datamodule = ImageClassificationData.from_numpy(
    train_data=images, train_targets=targets, val_split=0.2, batch_size=64,
    labels=[str(d) for d in range(10)], transform_kwargs={"image_size": (16, 16)},
)
model = ImageClassifier(backbone="test_resnet", pretrained=False, labels=datamodule.labels)
trainer = flash.Trainer(precision="bf16-mixed", max_epochs=1 if QUICK else 5, limit_train_batches=3 if QUICK else None)
trainer.fit(model, datamodule=datamodule)
print("bf16-mixed validation accuracy:", round(trainer.callback_metrics["val_accuracy"], 3))
