"""Validation losses and detections from one forward pass, for torchvision's one-stage detectors.

A validation batch needs both the loss (``val_loss``, for checkpoints and early stopping) and the detections
(for the mAP). torchvision detectors return one or the other, chosen by training mode, so the plain way runs the
network twice. RetinaNet and FCOS compute both from the same head outputs: this runs the detector once in eval
mode, keeps its head outputs and anchors (forward hooks), and computes the loss from them with the detector's own
``compute_loss``, the targets' boxes scaled as the detector's transform scales the images. The result equals the
two-pass way's (a test compares them) at about half the cost. Other detectors (Faster R-CNN, SSDLite,
EfficientDet) get ``None``: the caller runs the two passes.
"""

from __future__ import annotations

from typing import Any

import torch


def _one_stage(detector: torch.nn.Module) -> str | None:
    from torchvision.models.detection import FCOS, RetinaNet

    if isinstance(detector, FCOS):
        return "fcos"
    if isinstance(detector, RetinaNet):
        return "retinanet"
    return None


def losses_and_detections(detector: torch.nn.Module, images: list[torch.Tensor],
                          targets: list[dict[str, torch.Tensor]]) -> tuple[dict, list[dict]] | None:
    """``(loss parts, detections in the images' pixels)`` from one eval-mode pass; None for other detectors.

    ``targets`` hold ``boxes`` (XYXY in the images' pixels) and ``labels`` in the detector's own indices.
    """
    kind = _one_stage(detector)
    if kind is None:
        return None
    from torchvision.models.detection.transform import resize_boxes

    seen: dict[str, Any] = {}
    hooks = [
        detector.head.register_forward_hook(lambda module, args, out: seen.__setitem__("head", out)),
        detector.anchor_generator.register_forward_hook(
            lambda module, args, out: seen.update(image_list=args[0], features=args[1], anchors=out)),
    ]
    was_training = detector.training
    detector.eval()
    try:
        with torch.no_grad():
            detections = detector(images)
            sizes = seen["image_list"].image_sizes  # each image's size after the detector's resize
            scaled = [{"boxes": resize_boxes(t["boxes"], tuple(image.shape[-2:]), tuple(size)), "labels": t["labels"]}
                      for t, image, size in zip(targets, images, sizes)]
            if kind == "fcos":
                per_level = [f.size(2) * f.size(3) for f in seen["features"]]
                losses = detector.compute_loss(scaled, seen["head"], seen["anchors"], per_level)
            else:
                losses = detector.compute_loss(scaled, seen["head"], seen["anchors"])
    finally:
        for hook in hooks:
            hook.remove()
        detector.train(was_training)
    return losses, detections
