"""Train a segmentation model on shapes drawn over real photographs, then draw its masks on a new image.

The demo data (flash.image.segmentation.demo) crops scikit-learn's two sample photographs and draws discs and
squares on them; masks give every pixel its class (0 background, 1 disc, 2 square; 255 on the shapes' edges,
ignored). Prediction answers at the new image's own size (160x224 here), not the training size.

Run: python examples/semantic_segmentation.py   (FLASH_QUICK=1 for a smoke run)
"""

import os

import flash
from flash.image import SemanticSegmentation
from flash.image.segmentation.demo import DEMO_MODEL, demo_datamodule, write_inputs
from flash.image.segmentation.serving import write

QUICK = os.environ.get("FLASH_QUICK") == "1"
flash.seed_everything(42)

datamodule = demo_datamodule("shapes", num_train=8 if QUICK else 64, num_val=4 if QUICK else 16)
print("masks:", datamodule.mask_kind)
model = SemanticSegmentation(num_classes=datamodule.num_classes, labels=datamodule.labels, **DEMO_MODEL)
trainer = flash.Trainer(max_epochs=1 if QUICK else 4, limit_train_batches=1 if QUICK else None)
trainer.fit(model, datamodule=datamodule)
print("validation:", {k: round(float(v), 3) for k, v in trainer.callback_metrics.items() if k.startswith("val_")})

image = write_inputs("new")[0]
mask = model.predict(image, output="classes")
print(f"mask of {image}: {mask.shape[0]}x{mask.shape[1]} pixels, classes {sorted(set(mask.flatten().tolist()))}")
files = write(mask, source=image, folder="masks")
print("masks drawn into", ", ".join(str(path) for path in files))
