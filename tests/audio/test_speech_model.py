"""SpeechRecognizer with tiny random CTC (wav2vec2) and seq2seq (Whisper) models from local folders."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

import flash
from flash.audio import SpeechRecognition, SpeechRecognitionData, SpeechRecognizer
from flash.errors import ConfigurationError, DataError
from tests.audio.conftest import tone


def _fit_validate_predict_reload(folder, rows, tmp_path, **model_kwargs):
    files, texts = [r["file"] for r in rows[:6]], [r["text"] for r in rows[:6]]
    dm = SpeechRecognitionData.from_files(files[:4], texts[:4], val_files=files[4:], val_targets=texts[4:],
                                          predict_files=files[:3], batch_size=2)
    model = SpeechRecognizer(
        str(folder), pretrained=True, learning_rate=1e-3, **model_kwargs
    )  # offline: a local tmp folder
    trainer = flash.Trainer(
        max_epochs=1, default_root_dir=str(tmp_path), enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(model, datamodule=dm)
    metrics = trainer.validate(model, datamodule=dm)[0]
    assert isinstance(metrics["val_wer"], float) and metrics["val_wer"] >= 0.0
    assert isinstance(metrics["val_cer"], float) and np.isfinite(metrics["val_loss"])
    batches = trainer.predict(model, datamodule=dm, output="labels")
    transcripts = [t for batch in batches for t in batch]
    assert len(transcripts) == 3 and all(isinstance(t, str) for t in transcripts)
    assert model.predict(files[:3]) == transcripts  # same path with or without the trainer
    trainer.save_checkpoint(tmp_path / "speech.pt")
    return model, files[:3], transcripts


def _reload_offline(tmp_path, folder, files, transcripts, monkeypatch):
    shutil.rmtree(folder)  # nothing left to load from but the checkpoint
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checkpoint = torch.load(tmp_path / "speech.pt", weights_only=True)
    assert any(name.endswith("config.json") for name in checkpoint["speech_backbone_files"])
    reloaded = SpeechRecognizer.load_from_checkpoint(str(tmp_path / "speech.pt"))
    assert reloaded.predict(files) == transcripts
    assert reloaded.hparams["backbone"] == str(folder)
    return reloaded


def test_ctc_fit_validate_predict_and_offline_reload(ctc_folder, speech_rows, tmp_path_factory, tmp_path, monkeypatch):
    folder = tmp_path_factory.mktemp("ctc_copy") / "model"
    shutil.copytree(ctc_folder, folder)
    model, files, transcripts = _fit_validate_predict_reload(folder, speech_rows, tmp_path)
    reloaded = _reload_offline(tmp_path, folder, files, transcripts, monkeypatch)
    assert reloaded.is_ctc and reloaded.model.config.vocab_size == model.model.config.vocab_size


def test_whisper_fit_validate_predict_and_offline_reload(
    whisper_folder, speech_rows, tmp_path_factory, tmp_path, monkeypatch
):
    folder = tmp_path_factory.mktemp("whisper_copy") / "model"
    shutil.copytree(whisper_folder, folder)
    model, files, transcripts = _fit_validate_predict_reload(folder, speech_rows, tmp_path)
    assert not model.is_ctc and model.max_duration == 2.0  # the tiny Whisper's window
    _reload_offline(tmp_path, folder, files, transcripts, monkeypatch)


def test_labels_are_padded_with_minus_100_and_padding_does_not_change_the_loss(ctc_folder):
    torch.manual_seed(0)
    model = SpeechRecognizer(str(ctc_folder)).eval()
    clips = [torch.from_numpy(tone(0.6, 16000)), torch.from_numpy(tone(0.3, 16000, (440.0,)))]
    texts = ["go on", "up"]

    def loss_of(indices):
        waveform = torch.zeros(len(indices), max(clips[i].shape[0] for i in indices))
        for row, i in enumerate(indices):
            waveform[row, : clips[i].shape[0]] = clips[i]
        batch_input = {
            "waveform": waveform,
            "lengths": torch.tensor([clips[i].shape[0] for i in indices]),
            "sampling_rate": 16000,
        }
        meta = [{"row": i} for i in indices]
        features = model.input_features(batch_input, meta)
        labels = model.label_ids([texts[i] for i in indices], meta, features)
        with torch.no_grad():
            return model.model(**features, labels=labels).loss.item(), labels

    both, labels = loss_of([0, 1])
    assert labels[1].tolist()[2:] == [-100] * (labels.shape[1] - 2)  # "up" is 2 tokens, the rest is padding
    assert both == pytest.approx((loss_of([0])[0] + loss_of([1])[0]) / 2, rel=1e-4)


def test_resampled_inputs_give_the_same_features(ctc_folder, write_wav):
    model = SpeechRecognizer(str(ctc_folder))
    paths = {rate: write_wav(f"tone_{rate}.wav", tone(1.0, rate), rate) for rate in (8000, 16000, 44100)}
    dm = SpeechRecognitionData.from_files(list(paths.values()), ["a", "b", "c"])
    features = []
    for index in range(3):
        sample = dm.train_dataset[index]
        batch_input = {
            "waveform": sample["input"][None],
            "lengths": torch.tensor([sample["input"].shape[0]]),
            "sampling_rate": 16000,
        }
        features.append(model.input_features(batch_input, [sample["metadata"]])["input_values"][0])
    reference = features[1]
    assert all(f.shape == reference.shape for f in features)
    middle = slice(400, -400)
    for other in (features[0], features[2]):
        assert (other[middle] - reference[middle]).abs().max() < 0.05
        assert torch.corrcoef(torch.stack([other, reference]))[0, 1] > 0.999
    # a batch at 8 kHz handed straight to the model is resampled by the model, not misread
    eight = {
        "waveform": torch.from_numpy(tone(1.0, 8000))[None],
        "lengths": torch.tensor([8000]),
        "sampling_rate": 8000,
    }
    assert model.input_features(eight, [{}])["input_values"].shape[-1] == 16000


def test_unknown_characters_are_named_with_the_fix(ctc_folder, write_wav):
    model = SpeechRecognizer(str(ctc_folder))
    path = write_wav("clip.wav", tone(1.0, 16000))
    dm = SpeechRecognitionData.from_files([path], ["Hello, World!"], batch_size=1)
    trainer = flash.Trainer(max_epochs=1, enable_checkpointing=False, enable_progress_bar=False, logger=False)
    with pytest.raises(DataError) as info:
        trainer.fit(model, datamodule=dm)
    message = str(info.value)
    assert "'Hello, World!'" in message and "clip.wav" in message
    for char in ("'!'", "','", "'H'", "'W'"):
        assert char in message
    assert "normalize_text=True" in message and "lower-case" in message


def test_normalize_text_maps_case_and_drops_unknown_characters(ctc_folder):
    model = SpeechRecognizer(str(ctc_folder), normalize_text=True)
    assert model.transcripts.prepare("Hello, World!", "x") == "hello world"
    assert model.transcripts.reference("  Go ON. ") == "go on"


def test_too_long_clip_names_file_and_duration(whisper_folder, ctc_folder, write_wav):
    # training and evaluation on over-long clips stay an error; prediction reads them in windows (issue 19)
    path = write_wav("long.wav", tone(3.0, 16000))
    batch = next(iter(SpeechRecognitionData.from_files([path], ["a b"], batch_size=1).train_dataloader()))
    model = SpeechRecognizer(str(whisper_folder))
    with pytest.raises(DataError, match=r"long\.wav' is 3\.0 s long.*at most 2 s"):
        model.training_step(batch, 0)
    assert isinstance(model.predict(path), str)
    with pytest.raises(ConfigurationError, match="at most 2 s"):
        SpeechRecognizer(str(whisper_folder), max_duration=10)
    with pytest.raises(DataError, match=r"long\.wav' is 3\.0 s.*raise max_duration"):
        SpeechRecognizer(str(ctc_folder), max_duration=2.5).training_step(batch, 0)
    assert isinstance(SpeechRecognizer(str(ctc_folder), max_duration=2.5).predict(path), str)
    assert isinstance(SpeechRecognizer(str(ctc_folder), max_duration=4).predict(path), str)


def test_clip_too_short_for_its_transcript_is_named(ctc_folder, write_wav):
    model = SpeechRecognizer(str(ctc_folder))
    path = write_wav("short.wav", tone(0.1, 16000))
    dm = SpeechRecognitionData.from_files([path], ["a much longer transcript than fits"], batch_size=1)
    trainer = flash.Trainer(max_epochs=1, enable_checkpointing=False, enable_progress_bar=False, logger=False)
    with pytest.raises(DataError, match=r"short\.wav' is too short for its transcript"):
        trainer.fit(model, datamodule=dm)


def test_silent_clip_is_transcribed_without_nan(ctc_folder, whisper_folder):
    silence = np.zeros(16000, dtype=np.float32)
    for folder in (ctc_folder, whisper_folder):
        model = SpeechRecognizer(str(folder))
        features = model.input_features(
            {"waveform": torch.zeros(1, 16000), "lengths": torch.tensor([16000]), "sampling_rate": 16000}, [{}]
        )
        assert all(torch.isfinite(v.float()).all() for v in features.values())
        assert isinstance(model.predict(silence), str)


def test_predict_inputs_and_outputs(ctc_folder, speech_rows, tmp_path):
    model = SpeechRecognizer(str(ctc_folder))
    files = [r["file"] for r in speech_rows[:2]]
    from_paths = model.predict(files)
    assert isinstance(model.predict(files[0]), str) and model.predict(files[0]) == from_paths[0]
    import soundfile as sf

    array, rate = sf.read(files[1], dtype="float32")
    assert model.predict([array])[0] == from_paths[1] and rate == 16000
    with pytest.raises(ConfigurationError, match="output='labels'"):
        model.predict(files, output="probabilities")


def test_freeze_finetuning_freezes_the_encoder(ctc_folder, speech_rows, tmp_path):
    model = SpeechRecognizer(str(ctc_folder), learning_rate=1e-3)
    head_before = model.model.lm_head.weight.detach().clone()
    encoder_before = {k: v.detach().clone() for k, v in model.backbone.state_dict().items()}
    dm = SpeechRecognitionData.from_files(
        [r["file"] for r in speech_rows[:4]], [r["text"] for r in speech_rows[:4]], batch_size=2
    )
    trainer = flash.Trainer(
        max_epochs=1, default_root_dir=str(tmp_path), enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.finetune(model, datamodule=dm, strategy="freeze")
    assert all(torch.equal(v, model.backbone.state_dict()[k]) for k, v in encoder_before.items())
    assert not torch.equal(head_before, model.model.lm_head.weight)


def test_configuration_errors_and_alias(ctc_folder, tmp_path):
    assert SpeechRecognition is SpeechRecognizer
    with pytest.raises(ConfigurationError, match="works at 16000 Hz"):
        SpeechRecognizer(str(ctc_folder), sampling_rate=8000)
    missing = str(tmp_path / "no" / "such-model")
    with pytest.raises(ConfigurationError, match=r"Cannot load speech backbone '.*such-model'.*tiny-wav2vec2-ctc"):
        SpeechRecognizer(missing)
    assert "tiny-whisper" in SpeechRecognizer.available_backbones()


def test_new_vocab_gets_a_new_output_layer(ctc_folder):
    model = SpeechRecognizer(str(ctc_folder), vocab=list("abc"))
    assert model.model.lm_head.out_features == len(model.tokenizer) == 8  # 5 specials + a, b, c
    with pytest.raises(DataError, match="'d'"):
        model.transcripts.prepare("abd", "x")


# ---------------------------------------------------------------------------------------- error rates
def test_error_rates_match_torchmetrics_and_sum_over_the_epoch():
    from flash.audio.speech_recognition.metrics import ErrorRate, edit_distance

    text = pytest.importorskip("torchmetrics.text")
    batches = [(["the cat sat", "hello world", ""], ["the cat sat down", "hello there world", "a b"]),
               (["one two three four", "x"], ["one too three", "x y z"])]
    for unit, theirs in (("word", text.WordErrorRate()), ("char", text.CharErrorRate())):
        ours = ErrorRate(unit)
        for preds, target in batches:
            ours.update(preds, target)
            theirs.update(preds, target)
        assert float(ours.compute()) == pytest.approx(float(theirs.compute()), abs=1e-6)
    assert edit_distance("kitten", "sitting") == 3
    with pytest.raises(DataError, match="2 transcripts for 1 references"):
        ErrorRate().update(["a", "b"], ["a"])
