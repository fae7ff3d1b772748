"""The built-in CLI demo: bundled espeak-ng clips and a tiny model built offline."""

from __future__ import annotations

import flash
from flash.audio import SpeechRecognizer
from flash.audio.speech_recognition import demo


def test_demo_trains_and_predicts_offline(tmp_path):
    datamodule = demo.demo_datamodule(batch_size=5)
    assert (len(datamodule.train_dataset), len(datamodule.val_dataset), len(datamodule.predict_dataset)) == (10, 10, 3)
    assert datamodule.train_dataset[0]["metadata"]["sampling_rate"] == 16000
    total = sum(p.stat().st_size for p in demo.ASSETS.iterdir())
    assert total < 1_000_000
    model = SpeechRecognizer(**demo.DEMO_MODEL)
    trainer = flash.Trainer(**{**demo.DEMO_TRAINER, "max_epochs": 1}, default_root_dir=str(tmp_path),
                            enable_checkpointing=False, enable_progress_bar=False)
    trainer.fit(model, datamodule=datamodule)
    assert 0.0 <= trainer.callback_metrics["val_cer"]
    predictions = [t for batch in trainer.predict(model, datamodule=datamodule) for t in batch]
    assert len(predictions) == 3 and all(isinstance(t, str) for t in predictions)
    assert demo.DEMO_TRAINER["max_epochs"] <= 5
