"""Checkpoints written by older flash versions keep loading; newer ones fail with both versions named."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch

from flash.engine.checkpoint import FORMAT_VERSION, VERSION_KEY

from .conftest import run_flash

FIXTURES = Path(__file__).resolve().parent / "fixtures"
VERSIONED = sorted(FIXTURES.glob("image_classifier_v*.pt"))


def test_one_fixture_per_format_version():
    versions = sorted(int(p.stem.split("_v")[1]) for p in VERSIONED)
    assert versions == list(range(1, FORMAT_VERSION + 1)), "run tests/cli/make_fixtures.py for the new format version"


@pytest.mark.parametrize("path", VERSIONED, ids=lambda p: p.name)
def test_old_checkpoint_loads_and_predicts_the_same(path):
    from flash.image import ImageClassifier

    model = ImageClassifier.load_from_checkpoint(path)
    expected = ast.literal_eval(path.with_suffix(".expected.txt").read_text())
    got = model.predict(np.load(FIXTURES / "probe_images.npy"), output="probabilities")
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_old_checkpoint_predicts_from_the_command_line(tmp_path):
    from PIL import Image

    Image.fromarray(np.load(FIXTURES / "probe_images.npy")[0]).save(tmp_path / "x.png")
    result = run_flash("predict", "--checkpoint", str(VERSIONED[0]), "x.png", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\t")[1].strip() in ("a", "b")


def test_newer_format_names_both_versions(tmp_path):
    checkpoint = torch.load(VERSIONED[-1], weights_only=True)
    checkpoint[VERSION_KEY] = FORMAT_VERSION + 1
    torch.save(checkpoint, tmp_path / "future.pt")
    result = run_flash("predict", "--checkpoint", "future.pt", "x.png", cwd=tmp_path)
    assert result.returncode == 1
    assert f"format version {FORMAT_VERSION + 1}" in result.stderr and f"up to {FORMAT_VERSION}" in result.stderr
