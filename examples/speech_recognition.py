"""Train a (tiny) speech recognizer on synthesised speech and transcribe a clip.

Run: python examples/speech_recognition.py   (FLASH_QUICK=1 for a seconds-long smoke run)
For real work use backbone="facebook/wav2vec2-base-960h" (downloaded once, then cached).
"""

import os

import flash
from flash.audio import SpeechRecognizer
from flash.audio.speech_recognition.demo import DEMO_MODEL, demo_datamodule, demo_rows

QUICK = os.environ.get("FLASH_QUICK") == "1"
flash.seed_everything(42)

datamodule = demo_datamodule(batch_size=4)
model = SpeechRecognizer(**DEMO_MODEL)
trainer = flash.Trainer(max_epochs=1 if QUICK else 30, limit_train_batches=2 if QUICK else None)
trainer.fit(model, datamodule=datamodule)
print("validation:", {k: round(v, 3) for k, v in trainer.callback_metrics.items() if k.startswith("val_")})
first = demo_rows()[0]
print("transcript:", model.predict(first["file"]), "| truth:", first["text"])
trainer.save_checkpoint("speech_recognition_model.pt")
