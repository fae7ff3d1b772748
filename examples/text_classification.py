"""Fine-tune a text classifier (sentence sentiment) and predict on new sentences.

Run: python examples/text_classification.py   (FLASH_QUICK=1 for a seconds-long smoke run)
The backbone is the real pretrained all-MiniLM-L6-v2 shipped in a PyPI package: no download.
"""

import os

import flash
from flash.text import TextClassificationData, TextClassifier
from flash.text.classification.demo import DEMO_CSV, DEMO_MODEL

QUICK = os.environ.get("FLASH_QUICK") == "1"
flash.seed_everything(42)

datamodule = TextClassificationData.from_csv("review", "sentiment", train_file=DEMO_CSV, val_split=0.2, batch_size=16)
model = TextClassifier(**DEMO_MODEL, labels=datamodule.labels, max_length=64, learning_rate=1e-4)
trainer = flash.Trainer(max_epochs=1 if QUICK else 3, limit_train_batches=2 if QUICK else None,
                        limit_val_batches=2 if QUICK else None)
trainer.finetune(model, datamodule=datamodule, strategy="no_freeze")
print("validation:", {k: round(v, 3) for k, v in trainer.callback_metrics.items() if k.startswith("val_")})
print(model.predict(["An absolute delight from start to finish.", "Dull, slow and far too long."]))
trainer.save_checkpoint("text_classification_model.pt")
