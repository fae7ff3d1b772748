
import numpy as np
import pytest
import torch
from PIL import Image

import flash
from flash.core.data import DataModule
from flash.core.plots import plot_confusion_matrix, read_metrics, show_images
from flash.errors import DataError

from .helpers import PointsClassifier, PointsInput, points


def _non_trivial_png(path, min_colors=20):
    image = np.asarray(Image.open(path).convert("RGB"))
    assert image.shape[0] > 100 and image.shape[1] > 100
    assert len(np.unique(image.reshape(-1, 3), axis=0)) >= min_colors  # more than a blank canvas


def test_plot_metrics_from_a_real_run(tmp_path):
    xs, ys = points(64)
    dm = DataModule(PointsInput("train", xs, ys), val_split=0.25, batch_size=8)
    trainer = flash.Trainer(max_epochs=3, default_root_dir=tmp_path, enable_checkpointing=False, log_every_n_steps=1)
    trainer.fit(PointsClassifier(2), datamodule=dm)
    series = read_metrics(trainer)
    assert len(series["val_accuracy"]) == 3 and len(series["train_loss"]) >= 3
    figure = flash.plot_metrics(trainer, path=tmp_path / "curves.png")
    titles = {ax.get_title() for ax in figure.axes}
    assert {"loss", "accuracy"} <= titles
    _non_trivial_png(tmp_path / "curves.png")


def test_plot_metrics_without_log_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="No metrics.csv"):
        flash.plot_metrics(tmp_path)


def test_confusion_matrix_png(tmp_path):
    figure = plot_confusion_matrix([0, 1, 2, 2, 1], [0, 2, 2, 2, 1], labels=["a", "b", "c"], path=tmp_path / "cm.png")
    texts = sorted(t.get_text() for t in figure.axes[0].texts)
    assert texts.count("0") == 5 and texts.count("2") == 1 and texts.count("1") == 3
    _non_trivial_png(tmp_path / "cm.png")


def test_show_images_grid(tmp_path):
    images = [torch.rand(3, 16, 16) for _ in range(5)]
    figure = show_images(images, titles=list("abcde"), path=tmp_path / "grid.png", cols=3)
    assert [ax.get_title() for ax in figure.axes[:5]] == list("abcde")
    _non_trivial_png(tmp_path / "grid.png")
