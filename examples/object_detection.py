"""Train an object detector on generated shapes, then draw its predictions on an image.

Run: python examples/object_detection.py   (FLASH_QUICK=1 for a smoke run)
"""

import os
from pathlib import Path

import flash
from flash.image import ObjectDetector
from flash.image.detection.demo import DEMO_MODEL, demo_datamodule
from flash.image.detection.visualize import draw_predictions

QUICK = os.environ.get("FLASH_QUICK") == "1"
flash.seed_everything(42)

datamodule = demo_datamodule("shapes", num_train=8 if QUICK else 96, num_val=4 if QUICK else 32, batch_size=4)
model = ObjectDetector(labels=datamodule.labels, **DEMO_MODEL)
trainer = flash.Trainer(max_epochs=1 if QUICK else 10, limit_train_batches=1 if QUICK else None)
trainer.fit(model, datamodule=datamodule)
print("validation:", {k: round(v, 3) for k, v in trainer.callback_metrics.items() if k.startswith("val_")})

image = sorted(Path("shapes/val").rglob("*.png"))[0]
prediction = model.predict(str(image), threshold=0.3)
draw_predictions(str(image), prediction, path="detections.png")
print(f"{len(prediction['boxes'])} boxes drawn into detections.png")
