"""Image grids drawn with PIL: a tile per image and its caption, far cheaper than one matplotlib axis each.

Shared by the reports of every task that shows images (classification mistakes, detection boxes).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

TILE = 128
LINE = 12  # caption line height in pixels (PIL's default bitmap font)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` float in [0, 1] (or already uint8) -> ``(H, W, 3)`` uint8; other ranges are stretched to [0, 1]."""
    image = image.detach().cpu()
    if image.dtype != torch.uint8:
        image = image.float()
        if image.min() < 0 or image.max() > 1:
            low, high = image.min(), image.max()
            image = (image - low) / (high - low) if high > low else torch.zeros_like(image)
        image = (image * 255).round().to(torch.uint8)
    image = image.expand(3, -1, -1) if image.shape[0] == 1 else image[:3]
    return image.permute(1, 2, 0).numpy()  # (C, H, W) -> (H, W, 3)


def save_grid(images: Sequence[np.ndarray], captions: Sequence[str], path: str | os.PathLike, *, cols: int = 8,
              tile: int = TILE) -> None:
    """Save ``images`` (``(H, W, 3)`` uint8) as one PNG, ``cols`` per row, each scaled to fit ``tile`` pixels."""
    from PIL import Image, ImageDraw

    cols = max(1, min(cols, len(images)))
    lines = max((len(c.split("\n")) for c in captions), default=0)
    cell_h = tile + LINE * lines + 6
    rows = -(-len(images) // cols)
    sheet = Image.new("RGB", (cols * (tile + 6), rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    for i, array in enumerate(images):
        picture = Image.fromarray(array)
        scale = tile / max(picture.size)
        size = (max(1, round(picture.width * scale)), max(1, round(picture.height * scale)))
        resample = Image.Resampling.NEAREST if scale >= 2 else Image.Resampling.BILINEAR  # tiny digits stay crisp
        x, y = (i % cols) * (tile + 6) + 3, (i // cols) * cell_h + 3
        sheet.paste(picture.resize(size, resample), (x, y))
        for k, text in enumerate(captions[i].split("\n") if i < len(captions) else []):
            draw.text((x, y + tile + 2 + k * LINE), text, fill="black")
    sheet.save(path, format="PNG", compress_level=1)
