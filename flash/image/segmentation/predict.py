"""From logits to answers: back to the image's original size, sliding windows over large images, outputs.

Outputs (``model.predict(..., output=...)``, ``trainer.predict(..., output=...)``), one per image, all at
the image's original ``(H, W)``:

- ``"labels"`` (default): the class map as nested lists ``[[class, ...], ...]`` (Lightning Flash's; JSON-ready);
- ``"classes"``: the class map as an ``(H, W)`` NumPy int64 array;
- ``"probabilities"``: ``(C, H, W)`` float32 softmax probabilities; ``"preds"``: ``(C, H, W)`` float32 logits;
- ``"raw"``: the logits as a torch tensor.

Example:
    >>> import torch
    >>> format_masks([torch.tensor([[[0.0, 2.0]], [[1.0, 0.0]]])], "labels")
    [[[1, 0]]]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch

from flash.core.outputs import output_name
from flash.errors import ConfigurationError, invalid_choice

OUTPUTS = ("labels", "classes", "probabilities", "preds", "raw")


def resize_logits(logits: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """``(B, C, h, w)`` -> ``(B, C, H, W)`` bilinear (class scores are smooth; class maps are taken after)."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return torch.nn.functional.interpolate(logits, size=tuple(int(v) for v in size), mode="bilinear",
                                           align_corners=False)


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Start offsets covering ``length`` with ``window``-long steps of ``stride``; the last one ends at the edge.

    Example:
        >>> window_starts(100, 40, 30)
        [0, 30, 60]
    """
    if length <= window:
        return [0]
    starts = list(range(0, length - window, stride)) + [length - window]
    return sorted(set(starts))


def sliding_window(forward: Callable[[torch.Tensor], torch.Tensor], image: torch.Tensor, *,
                   window: Sequence[int], overlap: float = 0.25, batch_size: int = 8) -> torch.Tensor:
    """Logits ``(C, H, W)`` of one normalized image ``(3, H, W)`` from overlapping windows the model's training size.

    Windows overlap by ``overlap`` of their side; logits of overlapping windows are averaged. An image smaller
    than a window is padded (with zeros, the normalized mean colour) and the padding cut off again.
    """
    if not 0.0 <= overlap < 1.0:
        raise ConfigurationError(f"overlap must be in [0, 1). Received: overlap={overlap!r}")
    height, width = image.shape[-2:]
    win_h, win_w = int(window[0]), int(window[1])
    padded = torch.nn.functional.pad(image, (0, max(0, win_w - width), 0, max(0, win_h - height)))
    full_h, full_w = padded.shape[-2:]
    stride_h, stride_w = (max(1, math.floor(side * (1.0 - overlap))) for side in (win_h, win_w))
    boxes = [(top, left) for top in window_starts(full_h, win_h, stride_h)
             for left in window_starts(full_w, win_w, stride_w)]
    total: torch.Tensor | None = None
    counts = torch.zeros(1, full_h, full_w, device=image.device)
    for start in range(0, len(boxes), batch_size):
        chunk = boxes[start : start + batch_size]
        crops = torch.stack([padded[:, top : top + win_h, left : left + win_w] for top, left in chunk])
        logits = forward(crops).float()  # (b, C, win_h, win_w)
        if total is None:
            total = torch.zeros(logits.shape[1], full_h, full_w, device=image.device)
        for (top, left), tile in zip(chunk, logits):
            total[:, top : top + win_h, left : left + win_w] += tile
            counts[:, top : top + win_h, left : left + win_w] += 1
    assert total is not None  # at least one window
    return (total / counts)[:, :height, :width]


def format_masks(logits: Sequence[torch.Tensor], output: Any) -> list:
    """Per-image logits ``(C, H, W)`` -> one answer per image (see the module docstring)."""
    output = output_name(output)
    if output not in OUTPUTS:
        raise invalid_choice("output", output, OUTPUTS)
    answers: list = []
    for item in logits:
        item = item.detach().float().cpu()
        if output == "raw":
            answers.append(item)
        elif output == "preds":
            answers.append(item.numpy())
        elif output == "probabilities":
            answers.append(torch.softmax(item, dim=0).numpy())
        else:
            classes = item.max(dim=0).indices  # the arg-max over classes (~10x argmax's speed on the CPU)
            answers.append(classes.numpy() if output == "classes" else classes.tolist())
    return answers
