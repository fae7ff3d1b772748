"""An uploaded image decodes to the pixels ``flash predict`` reads from the same file."""

from __future__ import annotations

import numpy as np
from PIL import Image

from flash.image.io import EXIF_ORIENTATION, decode_image, load_image


def _same(a: Image.Image, b: Image.Image) -> bool:
    return a.size == b.size and a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b))


def test_uploads_decode_like_files(tmp_path):
    rng = np.random.default_rng(0)
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = 6  # a phone photo stored lying down
    Image.fromarray(rng.integers(0, 255, (40, 90, 3), dtype=np.uint8)).save(tmp_path / "phone.jpg",
                                                                           exif=exif.tobytes())
    rgba = rng.integers(0, 255, (20, 30, 4), dtype=np.uint8)
    rgba[..., 3] = 0  # fully transparent: white, as in training, not the stored colour
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "clear.png")
    for name in ("phone.jpg", "clear.png"):
        path = tmp_path / name
        assert _same(decode_image(path.read_bytes(), name=name), load_image(path))
    assert decode_image((tmp_path / "phone.jpg").read_bytes(), name="phone.jpg").size == (40, 90)  # upright
    assert np.asarray(decode_image((tmp_path / "clear.png").read_bytes(), name="clear.png")).min() == 255


def test_large_jpeg_uploads_decode_at_the_training_scale(tmp_path):
    image = Image.fromarray(np.random.default_rng(1).integers(0, 255, (50, 50, 3), dtype=np.uint8)).resize((400, 300))
    image.save(tmp_path / "big.jpg", quality=90)
    data = (tmp_path / "big.jpg").read_bytes()
    assert _same(decode_image(data, name="big.jpg", min_size=(64, 64)), load_image(tmp_path / "big.jpg",
                                                                                    min_size=(64, 64)))
    assert decode_image(data, name="big.jpg", min_size=(64, 64)).size == (100, 75)
