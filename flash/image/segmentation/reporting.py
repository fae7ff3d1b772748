"""The ``report`` adapter: what a segmentation run adds to its HTML report.

From the last validation pass (``validation_step`` returns ``{"loss", "masks", "targets"}``): the per-class
IoU table, the confusion matrix (rows: true class, normalised per row) and a grid of sample overlays
(image, truth, prediction). The page and its sections are the report's own objects, passed in: this module
imports nothing from ``flash.reports`` (task packages sit below it); see ARCHITECTURE.md, "Adding a task".

Example:
    >>> import torch
    >>> report = SegmentationReport()
    >>> report.add(None, {"masks": torch.tensor([[[0, 1]]]), "targets": torch.tensor([[[0, 1]]])}, {})
    >>> report.matrix.tolist()
    [[1, 0], [0, 1]]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from flash.core.data import INPUT
from flash.core.reporting import PassReport
from flash.image.segmentation.metrics import confusion_matrix, scores
from flash.image.segmentation.visualize import overlay, palette

MAX_SHOWN = 8
TILE = 160


class SegmentationReport(PassReport):
    """One validation pass: the confusion matrix of pixels and a few ``(image, truth, prediction)`` to draw."""

    outputs = ("masks", "targets")
    kept = ("samples",)

    def __init__(self) -> None:
        self.matrix: torch.Tensor | None = None
        self.samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, module: Any, outputs: dict, batch: Any) -> None:
        """Keep one validation batch (``outputs``: what ``validation_step`` returned)."""
        masks, targets = outputs["masks"].detach().cpu(), outputs["targets"].detach().cpu()
        num_classes = int(getattr(module, "num_classes", 0) or 0) or int(masks.max()) + 1
        batch_matrix = confusion_matrix(masks, targets, num_classes, getattr(module, "ignore_index", 255))
        self.matrix = batch_matrix if self.matrix is None else self.matrix + batch_matrix
        images = batch.get(INPUT) if isinstance(batch, dict) else None
        if images is None:
            return
        transform = getattr(module, "input_transform", None)
        for image, truth, predicted in zip(images, targets, masks):
            if len(self.samples) >= MAX_SHOWN:
                break
            self.samples.append((_denormalize(image, transform), truth.numpy(), predicted.numpy()))

    @classmethod
    def merged(cls, parts: list[SegmentationReport]) -> SegmentationReport:
        whole = super().merged(parts)  # the samples; the confusion matrices add up
        for part in parts:
            if part.matrix is not None:
                whole.matrix = part.matrix if whole.matrix is None else whole.matrix + part.matrix
        return whole

    def trim(self) -> None:
        self.samples = self.samples[:MAX_SHOWN]

    def sections(self, page: Any, *, model: Any) -> None:
        """The per-class IoU, the confusion matrix and the sample overlays, in that order."""
        if self.matrix is None:
            page.section("Validation").text("No validation masks were collected.", note=True)
            return
        names = _names(model, self.matrix.shape[0])
        results = scores(self.matrix)
        section = page.section("IoU per class")
        section.text(f"Mean IoU {float(results['mIoU']):.4f} over the classes present, pixel accuracy "
                     f"{float(results['pixel_accuracy']):.4f}, mean Dice {float(results['dice']):.4f}; pixels of the "
                     "ignored value are left out.")
        truth = self.matrix.sum(1).tolist()
        rows = [[name, None if iou != iou else round(iou, 4), int(pixels)]
                for name, iou, pixels in zip(names, results["iou"].tolist(), truth)]
        section.table(["class", "IoU", "true pixels"], rows, csv_name="per_class_iou.csv")
        _confusion_figure(page.section("Confusion matrix"), self.matrix, names)
        if self.samples:
            _samples(page.section("Validation samples"), self.samples, model)


def _denormalize(image: torch.Tensor, transform: Any) -> np.ndarray:
    """A normalized ``(3, H, W)`` tensor -> ``(H, W, 3)`` uint8."""
    mean = torch.tensor(getattr(transform, "mean", (0.485, 0.456, 0.406))).view(-1, 1, 1)
    std = torch.tensor(getattr(transform, "std", (0.229, 0.224, 0.225))).view(-1, 1, 1)
    pixels = (image.detach().float().cpu() * std + mean).clamp(0, 1)
    return (pixels.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def _names(model: Any, count: int) -> list[str]:
    labels = getattr(model, "labels", None)
    return [str(labels[i]) if labels and i < len(labels) else str(i) for i in range(count)]


def _confusion_figure(section: Any, matrix: torch.Tensor, names: list[str]) -> None:
    from flash.core.reporting.svg import heatmap

    counts = matrix.double().numpy()
    share = counts / np.maximum(counts.sum(1, keepdims=True), 1)
    section.svg(heatmap(share, names, names, title="share of each true class's pixels", xlabel="predicted class",
                        ylabel="true class"), "confusion_matrix.svg", alt="confusion matrix of pixels")


def _samples(section: Any, samples: list[tuple[np.ndarray, np.ndarray, np.ndarray]], model: Any) -> None:
    from flash.core.reporting.grid import save_grid

    colours = palette(int(getattr(model, "num_classes", 0) or 0), getattr(model, "labels_map", None))
    tiles, captions = [], []
    for index, (image, truth, predicted) in enumerate(samples):
        tiles += [image, overlay(image, truth, colours), overlay(image, predicted, colours)]
        captions += [f"image {index}", "true mask", "predicted mask"]
    save_grid(tiles, captions, section.folder / "val_overlays.png", cols=3, tile=TILE)
    section.text("Each row: a validation image, its true mask and the predicted mask (class colours over the image; "
                 "ignored pixels in white).", note=True)
    section.picture("val_overlays.png", alt="validation images with true and predicted masks")
