"""Speech of any length: windows with overlap, exact CTC joins, Whisper merges, timestamps, language/task (issue 19)."""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

import flash
from flash.audio import SpeechRecognitionData, SpeechRecognizer
from flash.audio.speech_recognition.chunking import collapse_ctc, merge_words, windows
from flash.audio.speech_recognition.features import output_lengths
from flash.errors import ConfigurationError
from tests.audio.conftest import tone

RATE = 16000


@pytest.mark.parametrize("num_samples", [1, 9, 10, 11, 25, 1000])
def test_windows_answer_for_every_sample_once(num_samples):
    spans = windows(num_samples, chunk=10, stride=2)
    own = [i for w in spans for i in range(w.start + w.left, w.end - w.right)]
    assert own == list(range(num_samples)) and all(w.end - w.start <= 10 for w in spans)
    with pytest.raises(ConfigurationError, match="longer than twice the stride"):
        windows(100, chunk=10, stride=5)


def test_merge_keeps_shared_words_once_and_ctc_keeps_separated_repeats():
    left = [(w, 0) for w in "the cat sat on".split()]
    merged = merge_words(left, [(w, 1) for w in "sat on the mat".split()])
    assert [w for w, _ in merged] == "the cat sat on the mat".split()
    assert [w for w, _ in merge_words(left, [(w, 1) for w in "a dog".split()])] == "the cat sat on a dog".split()
    assert collapse_ctc([5, 5, 0, 5, 7, 7], blank=0) == [(5, 0, 2), (5, 3, 4), (7, 4, 6)]


def _local_ctc(model: SpeechRecognizer, value_to_token: dict) -> None:
    """Replace the network by a causal-free stand-in: frame f's token depends only on its own 400 samples."""
    real, ratio = model.model, model.samples_per_frame
    vocab = len(model.tokenizer)

    def forward(input_values, attention_mask=None, **kwargs):
        mask = {} if attention_mask is None else {"attention_mask": attention_mask}
        frames = int(output_lengths(real, {"input_values": input_values, **mask}).max())
        means = torch.stack([input_values[:, f * ratio: f * ratio + 400].mean(-1) for f in range(frames)], dim=1)
        codes = torch.round(means * 2).long().clamp(-2, 2)  # (B, frames) in {-2..2}
        logits = torch.zeros(*codes.shape, vocab)
        for code, token in value_to_token.items():
            logits[..., token] += (codes == code).float() * 10
        return types.SimpleNamespace(logits=logits)

    real.forward = forward
    model.feature_extractor.do_normalize = False  # the stand-in reads raw samples


def test_ctc_long_audio_joins_windows_exactly(ctc_folder):
    model = SpeechRecognizer(str(ctc_folder), max_duration=1.0, chunk_length_s=0.6, stride_length_s=0.1)
    a, b, c, bar = model.tokenizer.convert_tokens_to_ids(["a", "b", "c", "|"])
    _local_ctc(model, {-2: a, -1: b, 0: model.tokenizer.pad_token_id, 1: c, 2: bar})
    signal = np.repeat(np.random.default_rng(0).choice([-1.0, -0.5, 0.0, 0.5, 1.0], 165), 320).astype(np.float32)
    expected = model.decode_ctc(model.model(torch.from_numpy(signal)[None]).logits, {})[0]  # read in one piece
    assert len(expected.split()) > 5
    assert model.predict(signal) == expected  # 3.3 s > max_duration: read in 0.6 s windows
    stamped = model.predict(signal, timestamps=True)
    assert stamped["text"] == expected and [w["text"] for w in stamped["chunks"]] == expected.split()
    times = [t for w in stamped["chunks"] for t in w["timestamp"]]
    assert times == sorted(times) and 0 <= times[0] and times[-1] <= len(signal) / RATE


def test_ctc_long_audio_through_trainer_predict(ctc_folder, write_wav, tmp_path):
    path = write_wav("long.wav", tone(3.0, RATE))
    model = SpeechRecognizer(str(ctc_folder), max_duration=1.0)
    datamodule = SpeechRecognitionData.from_files(predict_files=[path], batch_size=1)
    trainer = flash.Trainer(default_root_dir=str(tmp_path), logger=False, enable_progress_bar=False)
    predictions = trainer.predict(model, datamodule=datamodule)
    assert isinstance(predictions[0][0], str) and predictions[0][0] == model.predict(path)


def test_whisper_long_audio_merges_windows_with_segment_timestamps(whisper_folder, monkeypatch):
    model = SpeechRecognizer(str(whisper_folder))  # 2 s windows
    signal = np.repeat(np.arange(20, dtype=np.float32) / 100, RATE // 4)  # 5 s: the word "w<k>" every 0.25 s
    monkeypatch.setattr(model, "extract_features", lambda clips: {"clips": clips})

    def generate(features):  # each window "hears" the words of its samples, cut ones included
        return [" ".join(f"w{round(v * 100)}" for v in dict.fromkeys(np.round(clip, 4).tolist()))
                for clip in features["clips"]]

    monkeypatch.setattr(model, "generate_transcripts", generate)
    assert model.predict(signal) == " ".join(f"w{k}" for k in range(20))
    stamped = model.predict(signal, timestamps=True)
    spans = [s["timestamp"] for s in stamped["chunks"]]
    assert spans[0][0] == 0.0 and spans[-1][1] == 5.0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert " ".join(s["text"] for s in stamped["chunks"]) == stamped["text"]


def test_whisper_language_and_task_prompt(whisper_folder, ctc_folder):
    model = SpeechRecognizer(str(whisper_folder), language="en", task="translate")
    expected = model.tokenizer.convert_tokens_to_ids(["<|startoftranscript|>", "<|en|>", "<|translate|>",
                                                      "<|notimestamps|>"])
    assert model.transcripts.prompt_ids == expected
    assert isinstance(model.predict(tone(3.0, RATE)), str)  # 3 s: two windows, prompted
    with pytest.raises(ConfigurationError, match="task"):
        SpeechRecognizer(str(whisper_folder), task="summarize")
    with pytest.raises(ConfigurationError, match="language='fr'"):
        SpeechRecognizer(str(whisper_folder), language="fr")  # the tiny vocabulary has <|en|> only
    with pytest.raises(ConfigurationError, match="Whisper options"):
        SpeechRecognizer(str(ctc_folder), language="en")
    with pytest.raises(ConfigurationError, match="chunk_length_s"):
        SpeechRecognizer(str(whisper_folder), chunk_length_s=5)


def test_ctc_decoding_keeps_repeats_a_blank_separates(ctc_folder):
    model = SpeechRecognizer(str(ctc_folder))
    h, e, ell, o, bar = model.tokenizer.convert_tokens_to_ids(["h", "e", "l", "o", "|"])
    frames = [h, e, ell, ell, model.tokenizer.pad_token_id, ell, o, o, bar, h, h, e]
    logits = torch.nn.functional.one_hot(torch.tensor([frames]), len(model.tokenizer)).float()
    assert model.decode_ctc(logits, {}) == ["hello he"]


def test_flash_predict_reads_long_audio(ctc_folder, write_wav, tmp_path):
    from tests.cli.conftest import run_flash

    short = [write_wav(f"s{i}.wav", tone(0.8, RATE)) for i in range(2)]
    model = SpeechRecognizer(str(ctc_folder), max_duration=1.0, learning_rate=1e-3)
    trainer = flash.Trainer(max_steps=1, default_root_dir=str(tmp_path), enable_checkpointing=False, logger=False,
                            enable_progress_bar=False)
    trainer.fit(model, datamodule=SpeechRecognitionData.from_files(short, ["a", "b"], batch_size=2))
    trainer.save_checkpoint(tmp_path / "speech.pt")
    path = write_wav("long.wav", tone(3.0, RATE))  # three times max_duration
    result = run_flash("predict", "--checkpoint", "speech.pt", path, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"{path}\t" in result.stdout
