"""The object detector's ``report`` adapter: average precision per class at IoU 0.5, precision-recall curves,
true and predicted boxes drawn on the first validation images.

``validation_step`` returns ``{"detections": [{"boxes", "labels", "scores"}], "targets": [{"boxes", "labels"}]}``
(boxes in the original images' pixels); :class:`DetectionReport` keeps them for one validation pass.
AP here is the area under the all-point interpolated precision-recall curve at IoU >= 0.5 (Pascal VOC);
the COCO mAP the task logs (``val_map``) averages over ten IoU thresholds and is lower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

from flash.core.data import INPUT, METADATA
from flash.core.reporting import PassReport

SHOWN_IMAGES = 8  # validation images drawn with their boxes
IOU = 0.5
SHOWN_SCORE = 0.3  # predicted boxes drawn on the validation images
TILE = 256

class DetectionReport(PassReport):
    """The detections and true boxes of one validation pass, on the CPU, and the first images to draw them on."""

    outputs: ClassVar[tuple[str, ...]] = ("detections", "targets")
    kept = ("detections", "targets", "images")

    def __init__(self) -> None:
        self.detections: list[dict] = []
        self.targets: list[dict] = []
        self.images: list[tuple[torch.Tensor, dict, dict]] = []  # (image, detection, target), boxes in its pixels

    def add(self, module: Any, outputs: dict, batch: Any) -> None:
        """Keep one validation batch's detections and true boxes, and its images while fewer than 8 are kept."""
        detections = [{k: v.detach().cpu() for k, v in d.items()} for d in outputs["detections"]]
        targets = [{k: v.detach().cpu() for k, v in t.items()} for t in outputs["targets"]]
        images = batch.get(INPUT, []) if isinstance(batch, dict) else []
        metadata = batch.get(METADATA) if isinstance(batch, dict) else None
        for i, (image, detection, target) in enumerate(zip(images, detections, targets)):
            if len(self.images) >= SHOWN_IMAGES:
                break
            size = (metadata[i] if isinstance(metadata, list) else {}).get("size") or image.shape[-2:]
            sy, sx = image.shape[-2] / size[0], image.shape[-1] / size[1]  # original pixels -> the tensor's
            scale = torch.tensor([sx, sy, sx, sy])
            self.images.append((image.detach().float().cpu(), {**detection, "boxes": detection["boxes"] * scale},
                                {**target, "boxes": target["boxes"] * scale}))
        self.detections += detections
        self.targets += targets

    def trim(self) -> None:
        self.images = self.images[:SHOWN_IMAGES]

    def sections(self, page: Any, *, model: Any) -> None:
        """Add per-class AP, precision-recall curves and an image grid for this validation pass to ``page``."""
        labels = getattr(model, "labels", None)
        present = {int(label) for t in self.targets for label in t["labels"].tolist()}
        present |= {int(label) for d in self.detections for label in d["labels"].tolist()}
        curves = {}
        for label in sorted(present):
            precision, recall, num_true = precision_recall(self.detections, self.targets, label)
            curves[label] = (precision, recall, num_true, average_precision(precision, recall))
        names = {label: _name(labels, label) for label in curves}
        section = page.section("Average precision per class")
        true_classes = [c for c in curves.values() if c[2]]
        mean_ap = float(np.mean([c[3] for c in true_classes])) if true_classes else 0.0
        section.text(f"{len(self.targets)} validation images; mAP@0.5 {mean_ap:.4f} over the classes with true "
                     "boxes. A detection counts when it overlaps an unmatched true box of its class by IoU >= 0.5.")
        rows = [[names[label], ap, num_true, len(precision)] for label, (precision, _, num_true, ap) in curves.items()]
        section.table(["class", "AP@0.5", "true boxes", "detections"], rows, csv_name="per_class_ap.csv")
        if curves:
            _pr_figure(section, curves, names)
        if self.images:
            _image_grid(page.section("Validation images"), self.images, labels)


def precision_recall(detections: list[dict], targets: list[dict], label: int, *, iou: float = IOU):
    """``(precision, recall, num_true)`` arrays along the detections of class ``label``, best score first.

    A detection is a true positive when it overlaps a not-yet-matched true box of its class by ``iou``.

    Example:
        >>> box = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
        >>> p, r, n = precision_recall([{"boxes": box, "labels": torch.tensor([1]), "scores": torch.tensor([0.9])}],
        ...                            [{"boxes": box, "labels": torch.tensor([1])}], 1)
        >>> p.tolist(), r.tolist(), n
        ([1.0], [1.0], 1)
    """
    from torchvision.ops import box_iou

    scored: list[tuple[float, bool]] = []
    num_true = 0
    for detection, target in zip(detections, targets):
        truth = target["boxes"][target["labels"] == label].float()
        num_true += len(truth)
        keep = detection["labels"] == label
        boxes, scores = detection["boxes"][keep].float(), detection["scores"][keep].float()
        order = torch.argsort(scores, descending=True)
        overlaps = box_iou(boxes[order], truth) if len(truth) and len(boxes) else torch.zeros(len(boxes), 0)
        matched = torch.zeros(len(truth), dtype=torch.bool)
        for row, index in enumerate(order.tolist()):
            candidates = overlaps[row].clone() if overlaps.shape[1] else overlaps[row]
            if candidates.numel():
                candidates[matched] = -1.0
            best = int(candidates.argmax()) if candidates.numel() else -1
            hit = best >= 0 and float(candidates[best]) >= iou
            if hit:
                matched[best] = True
            scored.append((float(scores[index]), hit))
    scored.sort(key=lambda item: -item[0])
    hits = np.array([hit for _, hit in scored], dtype=float)
    tp, fp = np.cumsum(hits), np.cumsum(1.0 - hits)
    precision = tp / np.maximum(tp + fp, 1e-12)
    recall = tp / num_true if num_true else np.zeros_like(tp)
    return precision, recall, num_true


def average_precision(precision: np.ndarray, recall: np.ndarray) -> float:
    """Area under the all-point interpolated precision-recall curve (0 with no detections)."""
    if not len(precision):
        return 0.0
    r = np.concatenate([[0.0], recall, [recall[-1]]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]  # precision envelope: best precision at any higher recall
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


def _name(labels: Sequence[Any] | None, label: int) -> str:
    return str(labels[label]) if labels and 0 <= label < len(labels) else str(label)


def _pr_figure(section: Any, curves: dict, names: dict) -> None:
    from flash.core.reporting.svg import Panel, line_charts

    series = {f"{names[label]} AP {ap:.2f}": list(zip([0.0, *recall.tolist()], [1.0, *precision.tolist()]))
              for label, (precision, recall, _, ap) in curves.items()}
    panel = Panel("precision-recall, IoU 0.5", series, xlabel="recall", ylabel="precision",
                  limits=((0.0, 1.02), (0.0, 1.02)))
    section.svg(line_charts([panel]), "pr_curves.svg", alt="precision-recall curves")


def _image_grid(section: Any, images: list[tuple[torch.Tensor, dict, dict]], labels: Sequence[Any] | None) -> None:
    from torchvision.utils import draw_bounding_boxes

    from flash.core.reporting.grid import save_grid, to_uint8

    section.text(f"True boxes in green, predicted boxes (score >= {SHOWN_SCORE}) in red.", note=True)
    drawn, captions = [], []
    for image, detection, target in images:
        scale = TILE / max(image.shape[-2:])  # draw on the tile-sized image: thin lines, readable names
        size = [round(image.shape[-2] * scale), round(image.shape[-1] * scale)]
        canvas = torch.nn.functional.interpolate(image[None, :3].float(), size=size, mode="bilinear")[0]
        canvas = torch.from_numpy(to_uint8(canvas)).permute(2, 0, 1).contiguous()  # (H, W, 3) -> (3, H, W)
        keep = detection["scores"] >= SHOWN_SCORE
        for boxes, names, colour in (
            (target["boxes"], [_name(labels, int(i)) for i in target["labels"]], "lime"),
            (detection["boxes"][keep], [_name(labels, int(i)) for i in detection["labels"][keep]], "red"),
        ):
            if len(boxes):
                canvas = draw_bounding_boxes(canvas, boxes.reshape(-1, 4).float() * scale, labels=names, colors=colour)
        drawn.append(canvas.permute(1, 2, 0).numpy())
        captions.append(f"{len(target['boxes'])} true, {int(keep.sum())} predicted")
    save_grid(drawn, captions, section.folder / "val_images.png", cols=4, tile=TILE)
    section.picture("val_images.png", alt="validation images with true and predicted boxes")
