"""A small CTC model learns real (synthesised) speech on CPU: training-set error rates fall clearly.

The 20 clips are espeak-ng recordings of ten words in two voices, shipped in the package
(``flash/audio/speech_recognition/assets``, made by ``tests/audio/make_speech_assets.py``).
"""

from __future__ import annotations

import pytest
import torch
from torchmetrics.text import CharErrorRate, WordErrorRate

import flash
from flash.audio import SpeechRecognitionData, SpeechRecognizer


@pytest.mark.slow
def test_tiny_ctc_model_learns_the_synthesised_words(speech_rows, tmp_path):
    files, texts = [r["file"] for r in speech_rows], [r["text"] for r in speech_rows]
    torch.manual_seed(0)
    model = SpeechRecognizer("tiny-wav2vec2-ctc", vocab=sorted(set("".join(texts))), learning_rate=3e-3)

    def error_rates() -> tuple[float, float]:
        predictions = model.predict(files, batch_size=len(files))
        return CharErrorRate()(predictions, texts).item(), WordErrorRate()(predictions, texts).item()

    cer_before, wer_before = error_rates()
    datamodule = SpeechRecognitionData.from_files(files, texts, batch_size=4)
    trainer = flash.Trainer(max_steps=600, default_root_dir=str(tmp_path), enable_checkpointing=False,
                            enable_progress_bar=False, logger=False)
    trainer.fit(model, datamodule=datamodule)
    cer_after, wer_after = error_rates()
    print(f"train CER {cer_before:.3f} -> {cer_after:.3f}, WER {wer_before:.3f} -> {wer_after:.3f}")
    assert cer_before >= 0.95  # untrained: nothing right (random characters, or nothing at all)
    assert cer_after < 0.6 and cer_after < cer_before / 2
    assert wer_after < wer_before
