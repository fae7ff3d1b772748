"""Export every task to ONNX and TorchScript; onnxruntime / TorchScript answers match PyTorch's.

Tolerances: logits and CTC logits within 1e-4 (absolute, float32); detection boxes within 0.05 px and scores
within 1e-4; labels, transcripts and box counts exactly equal.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from flash.core.task import Task
from flash.serve import OnnxPredictor, export, read_metadata

from .conftest import LABELS, write_images

ATOL = 1e-4

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::FutureWarning",
                                        "ignore::UserWarning", "ignore:.*TracerWarning.*")


def _torchscript(path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return torch.jit.load(str(path), map_location="cpu")


@pytest.fixture(scope="module")
def image_model(image_checkpoint):
    return Task.load_from_checkpoint(str(image_checkpoint))


def test_image_classification_onnx_and_torchscript_match_torch(image_model, tmp_path):
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        expected = image_model(x).numpy()
    onnx_path = export(image_model, tmp_path / "model.onnx", fmt="onnx")
    predictor = OnnxPredictor(onnx_path)
    np.testing.assert_allclose(predictor.session.run(None, {"input": x.numpy()})[0], expected, atol=ATOL)
    with torch.no_grad():
        traced = _torchscript(export(image_model, tmp_path / "m.ts.pt", fmt="torchscript"))(x).numpy()
    np.testing.assert_allclose(traced, expected, atol=ATOL)
    meta = read_metadata(onnx_path)
    assert meta["task"] == "image_classification" and meta["labels"] == image_model.labels
    assert meta["transform"]["image_size"] == [32, 32]
    files = write_images(tmp_path / "images", 5, seed=3)
    assert predictor.predict([predictor.load(f) for f in files]) == image_model.predict([str(f) for f in files])


def test_text_classification_dynamic_batch_and_sequence(text_checkpoint, tmp_path):
    model = Task.load_from_checkpoint(str(text_checkpoint))
    predictor = OnnxPredictor(export(model, tmp_path / "text.onnx", fmt="onnx"))
    scripted = _torchscript(export(model, tmp_path / "text.ts.pt", fmt="torchscript"))
    names = read_metadata(tmp_path / "text.onnx")["input_names"]
    for texts in (["good"], ["a very good film", "bad plot and the acting was dull really", "fun"]):  # other B and T
        encoded = model.tokenizer(texts, padding="longest", return_tensors="pt")
        with torch.no_grad():
            expected = model(dict(encoded)).numpy()
            traced = scripted(*(encoded[n] for n in names)).numpy()
        got = predictor.session.run(None, {n: encoded[n].numpy() for n in names})[0]
        np.testing.assert_allclose(got, expected, atol=ATOL)
        np.testing.assert_allclose(traced, expected, atol=ATOL)
        assert predictor.predict(texts) == model.predict(texts)


def test_object_detection_onnx_and_torchscript_match_torch(detection_checkpoint, tmp_path):
    from flash.image.io import load_image

    model = Task.load_from_checkpoint(str(detection_checkpoint))
    predictor = OnnxPredictor(export(model, tmp_path / "det.onnx", fmt="onnx"))
    scripted = _torchscript(export(model, tmp_path / "det.ts.pt", fmt="torchscript"))
    files = write_images(tmp_path / "images", 2, seed=4, size=48)[:1] + write_images(tmp_path / "wide", 1, size=80)
    expected = model.predict([str(f) for f in files])
    got = predictor.predict([load_image(f) for f in files])
    for want, have in zip(expected, got):
        assert have["labels"] == want["labels"] and len(want["labels"]) > 0
        np.testing.assert_allclose(have["boxes"], want["boxes"], atol=0.05)
        np.testing.assert_allclose(have["scores"], want["scores"], atol=ATOL)
    image = torch.rand(3, 40, 64)
    with torch.no_grad():
        boxes, labels, scores = scripted(image)
        want = model.model([image])[0]
    torch.testing.assert_close(boxes, want["boxes"], atol=0.05, rtol=0)
    assert torch.equal(labels, want["labels"])


def test_speech_ctc_onnx_and_torchscript_match_torch(speech_checkpoint, speech_files, tmp_path):
    model = Task.load_from_checkpoint(str(speech_checkpoint))
    predictor = OnnxPredictor(export(model, tmp_path / "speech.onnx", fmt="onnx"))
    scripted = _torchscript(export(model, tmp_path / "speech.ts.pt", fmt="torchscript"))
    waveforms = [predictor.load(f) for f in speech_files[:3]]
    assert predictor.predict(waveforms) == model.predict(speech_files[:3])
    features = model.feature_extractor([w.numpy() for w in waveforms], sampling_rate=16000, padding=True,
                                       return_attention_mask=True, return_tensors="pt")
    features["attention_mask"] = features["attention_mask"].long()
    with torch.no_grad():
        expected = model.model(**features).logits.numpy()
        traced, _ = scripted(features["input_values"], features["attention_mask"])
    got, frames = predictor.session.run(None, {k: v.numpy() for k, v in features.items()})
    np.testing.assert_allclose(got, expected, atol=ATOL)
    np.testing.assert_allclose(traced.numpy(), expected, atol=ATOL)
    assert frames.tolist() == model.model._get_feat_extract_output_lengths(features["attention_mask"].sum(-1)).tolist()


def test_whisper_and_plain_modules_say_what_is_not_supported(tmp_path):
    from flash.audio import SpeechRecognizer

    with pytest.raises(ValueError, match="sequence-to-sequence .*cannot be exported yet.*optimum"):
        export(SpeechRecognizer("tiny-whisper"), tmp_path / "w.onnx")
    with pytest.raises(ValueError, match="Linear cannot be exported yet"):
        export(torch.nn.Linear(2, 2), tmp_path / "l.onnx")
    with pytest.raises(ValueError, match="Received: format='tflite'"):
        export(torch.nn.Linear(2, 2), tmp_path / "l.onnx", fmt="tflite")


def test_flash_predict_runs_an_exported_onnx_model(text_checkpoint, tmp_path):
    from tests.cli.conftest import run_flash

    model = Task.load_from_checkpoint(str(text_checkpoint))
    texts = ["a good film", "dull and boring", "great fun"]
    result = run_flash("export", "--checkpoint", str(text_checkpoint), "--format", "onnx", "--output", "t.onnx",
                       cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = run_flash("predict", "--checkpoint", "t.onnx", *texts, "--output", "preds.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    written = json.loads((tmp_path / "preds.json").read_text())
    assert written == [{"input": t, "prediction": p} for t, p in zip(texts, model.predict(texts))]
    assert set(p["prediction"] for p in written) <= set(LABELS) | set(model.labels)
