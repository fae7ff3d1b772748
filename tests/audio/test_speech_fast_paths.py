"""The speech task's fast paths keep their results: flash/audio's own error rates give torchmetrics' numbers, predict
batches clips by length and answers in input order, the sanity check generates only a few tokens."""

from __future__ import annotations

import random
import subprocess
import sys

import pytest
import torch

import flash
from flash.audio import SpeechRecognitionData, SpeechRecognizer
from flash.audio.speech_recognition import model as speech_model
from flash.audio.speech_recognition.metrics import ErrorRate, edit_distance


def test_edit_distance_counts_substitutions_deletions_and_insertions():
    assert edit_distance("the cat sat".split(), "the bat sat down".split()) == 2
    assert edit_distance([], ["a", "b"]) == 2 and edit_distance(["a", "b"], []) == 2
    assert edit_distance("kitten", "sitting") == 3


def test_error_rates_equal_torchmetrics_batch_by_batch_and_over_the_epoch():
    text = pytest.importorskip("torchmetrics.text")
    rng = random.Random(0)
    words = "a b c the cat sat on".split()
    pairs = [(text.WordErrorRate(), ErrorRate("word")), (text.CharErrorRate(), ErrorRate("char"))]
    for _ in range(30):
        predictions = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 6))) for _ in range(4)]
        references = [" ".join(rng.choice(words) for _ in range(rng.randint(1, 6))) for _ in range(4)]
        for theirs, ours in pairs:
            assert float(ours(predictions, references)) == pytest.approx(float(theirs(predictions, references)))
            theirs.update(predictions, references)
            ours.update(predictions, references)
    for theirs, ours in pairs:
        assert float(ours.compute()) == pytest.approx(float(theirs.compute()))
        assert ours.update_count == theirs.update_count == 60  # a call and an update each count, as in torchmetrics
        ours.reset()
        assert ours.update_count == 0 and float(ours.compute()) == 0.0


def test_error_rate_state_is_not_in_the_state_dict_and_clones_apart():
    metric = ErrorRate("word")
    metric.update("a b", "a c")
    copy = metric.clone()
    copy.update("x", "y")
    assert metric.state_dict() == {} and float(metric.compute()) == 0.5
    assert float(copy.compute()) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="2 transcripts for 1 references"):
        metric.update(["a", "b"], ["a"])


def test_speech_recognizer_does_not_import_torchmetrics():
    code = ("import sys; from flash.audio import SpeechRecognizer; m = SpeechRecognizer('tiny-wav2vec2-ctc'); "
            "m.val_metrics; print(sorted(m.val_metrics), 'torchmetrics' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == "['cer', 'wer'] False"


def test_predict_batches_by_length_and_answers_in_input_order(speech_rows, monkeypatch):
    torch.manual_seed(0)
    model = SpeechRecognizer("tiny-wav2vec2-ctc")
    files = [r["file"] for r in speech_rows[:7]]
    batches: list[list[int]] = []
    transcribe = model.transcribe

    def recording(batch_input, metadata=None, **kwargs):
        batches.append(batch_input["lengths"].tolist())
        return transcribe(batch_input, metadata, **kwargs)

    monkeypatch.setattr(model, "transcribe", recording)
    together = model.predict(files, batch_size=3)
    lengths = [length for batch in batches for length in batch]
    assert lengths == sorted(lengths) and [len(b) for b in batches] == [3, 3, 1]
    assert together == [model.predict(f) for f in files]  # one at a time: nothing padded, same text
    assert model.predict([files[2]]) == [together[2]] and model.predict(files[2]) == together[2]


def test_sanity_check_generates_a_few_tokens_validation_whole_transcripts(whisper_folder, speech_rows, tmp_path,
                                                                           monkeypatch):
    calls: list[tuple[bool, int | None]] = []
    generate = speech_model.generate

    def recording(model, tokenizer, features, **kwargs):
        calls.append((trainer.sanity_checking, kwargs.get("max_new_tokens")))
        texts = generate(model, tokenizer, features, **kwargs)
        assert kwargs.get("max_new_tokens") is None or all(len(t.encode()) <= speech_model.SANITY_TOKENS for t in texts)
        return texts

    monkeypatch.setattr(speech_model, "generate", recording)
    files, texts = [r["file"] for r in speech_rows[:4]], [r["text"] for r in speech_rows[:4]]
    datamodule = SpeechRecognitionData.from_files(files[:2], texts[:2], val_files=files[2:], val_targets=texts[2:],
                                                  batch_size=1)
    model = SpeechRecognizer(str(whisper_folder), learning_rate=1e-3)
    trainer = flash.Trainer(max_epochs=1, default_root_dir=str(tmp_path), enable_checkpointing=False,
                            enable_progress_bar=False, report=False)
    trainer.fit(model, datamodule=datamodule)
    assert calls == [(True, speech_model.SANITY_TOKENS)] * 2 + [(False, None)] * 2
    assert 0.0 <= trainer.callback_metrics["val_wer"] and "val_cer" in trainer.callback_metrics


def test_training_batches_group_clips_of_similar_duration_and_reshuffle(speech_rows):
    from flash.audio.speech_recognition.sampling import audio_lengths
    from flash.core.data.samplers import LengthGroupedSampler

    files, texts = [r["file"] for r in speech_rows], [r["text"] for r in speech_rows]
    datamodule = SpeechRecognitionData.from_files(files, texts, batch_size=4)
    loader = datamodule.train_dataloader()
    sampler = loader.sampler
    assert isinstance(sampler, LengthGroupedSampler)
    lengths = audio_lengths(datamodule.train_dataset)
    assert lengths == pytest.approx([len(sf_read(f)) / 16000 for f in files], abs=1e-3)
    first = list(sampler)
    assert sorted(first) == list(range(len(files)))
    ranked = sorted(lengths, reverse=True)  # 20 clips: one group; each batch of 4 neighbours in duration
    assert sorted(sorted(lengths[i] for i in first[k : k + 4]) for k in range(0, 20, 4)) == sorted(
        sorted(ranked[k : k + 4]) for k in range(0, 20, 4))
    sampler.set_epoch(1)
    assert sorted(list(sampler)) == sorted(first)
    batch = next(iter(loader))
    assert batch["input"]["lengths"].tolist() == sorted(batch["input"]["lengths"].tolist(), reverse=True)
    plain = SpeechRecognitionData.from_files(files, texts, batch_size=4, group_by_length=False)
    assert not isinstance(plain.train_dataloader().sampler, LengthGroupedSampler)
    assert SpeechRecognitionData.from_files(files, texts, val_split=0.25, batch_size=4).train_dataloader().sampler


def sf_read(path):
    import soundfile

    return soundfile.read(path, dtype="float32")[0]
