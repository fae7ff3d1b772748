"""``model.predict(folder)`` decodes each image with its batch, not every image before the first batch."""

from __future__ import annotations

import torch
from PIL import Image

import flash.image.classification.model as model_module
from flash.image import ImageClassifier
from tests.image.classification.conftest import TINY, color_image

BATCH = 3


def _counting(monkeypatch, model: ImageClassifier) -> tuple[list[str], list[int]]:
    """Record each decoded file, and how many files were decoded when each batch reached the model."""
    decoded: list[str] = []
    at_batch: list[int] = []
    real_decode, real_step = model_module.as_rgb_image, model.predict_step

    def decode(value, **kwargs):
        decoded.append(str(value))
        return real_decode(value, **kwargs)

    def step(batch, batch_idx):
        at_batch.append(len(decoded))
        return real_step(batch, batch_idx)

    monkeypatch.setattr(model_module, "as_rgb_image", decode)
    monkeypatch.setattr(model, "predict_step", step)
    return decoded, at_batch


def test_predict_folder_decodes_per_batch_with_results_in_input_order(tmp_path, monkeypatch):
    colors = ["blue", "red", "green", "blue", "red", "green", "red", "blue"]  # 8 images: batches of 3, 3, 2
    for i, color in enumerate(colors):
        Image.fromarray(color_image(color, 300 + i)).save(tmp_path / f"{i}_{color}.png")
    files = sorted(str(p) for p in tmp_path.iterdir())
    torch.manual_seed(0)
    model = ImageClassifier(backbone=TINY, labels=["blue", "green", "red"])
    # The same images decoded up front: what predict gave before it decoded per batch.
    expected = model.predict([Image.open(f).convert("RGB") for f in files], output="logits", batch_size=BATCH)
    expected_labels = model.predict([Image.open(f).convert("RGB") for f in files], batch_size=BATCH)

    decoded, at_batch = _counting(monkeypatch, model)
    logits = model.predict(tmp_path, output="logits", batch_size=BATCH)
    assert at_batch == [3, 6, 8]  # the first batch ran after 3 decodes, not 8
    assert decoded == files  # each file decoded once, in input order
    assert torch.allclose(torch.tensor(logits), torch.tensor(expected), atol=1e-6)

    decoded.clear(), at_batch.clear()
    assert model.predict(files, batch_size=BATCH) == expected_labels  # a list of paths: the same, lazily
    assert at_batch == [3, 6, 8]
    assert model.predict(files[0]) == expected_labels[0]  # one input: one result, not a list
