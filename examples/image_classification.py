"""Fine-tune an image classifier, predict on new images, save and reload it.

Run: python examples/image_classification.py   (FLASH_QUICK=1 for a seconds-long smoke run)
Uses the built-in real handwritten digits, so it works offline.
"""

import os

import flash
from flash.image import ImageClassificationData, ImageClassifier
from flash.image.classification.demo import load_digits

QUICK = os.environ.get("FLASH_QUICK") == "1"
flash.seed_everything(42)

images, targets = load_digits()  # (1797, 8, 8) uint8, (1797,) int
datamodule = ImageClassificationData.from_numpy(
    train_data=images[:1500], train_targets=targets[:1500], val_split=0.2, batch_size=64,
    labels=[str(i) for i in range(10)], transform_kwargs={"image_size": (16, 16)},
)
model = ImageClassifier(backbone="test_resnet" if QUICK else "resnet18", pretrained=False, labels=datamodule.labels)
trainer = flash.Trainer(max_epochs=1 if QUICK else 5, limit_train_batches=3 if QUICK else None)
trainer.finetune(model, datamodule=datamodule, strategy="no_freeze")
print("validation:", {k: round(v, 3) for k, v in trainer.callback_metrics.items() if k.startswith("val_")})

print("predicted:", model.predict(images[1500:1510]), "true:", targets[1500:1510].tolist())
trainer.save_checkpoint("image_classification_model.pt")
reloaded = ImageClassifier.load_from_checkpoint("image_classification_model.pt")
assert reloaded.predict(images[1500:1510]) == model.predict(images[1500:1510])
print("saved and reloaded: image_classification_model.pt")
