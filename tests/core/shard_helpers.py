"""Tiny shards written to tmp_path: webdataset-style .tar archives of JPEGs and .parquet files of texts."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

COLORS = ["blue", "red"]
RGB = {"blue": (20, 40, 230), "red": (230, 30, 20)}


def _member(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def write_tar_shards(folder: Path, *, shards: int = 3, per_shard: int = 4, size: int = 16,
                     prefix: str = "train", labels: bool = True) -> list[Path]:
    """``folder/<prefix>-000.tar`` ...: each sample ``<key>.jpg`` (a 16x16 JPEG) + ``<key>.cls`` (0 blue, 1 red;
    none if not ``labels``).

    The keys ("000003": shard 0, sample 3) are unique across the shards.
    """
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for shard in range(shards):
        path = folder / f"{prefix}-{shard:03d}.tar"
        with tarfile.open(path, "w") as tar:
            for i in range(per_shard):
                key, label = f"{shard:03d}{i:03d}", (shard + i) % 2
                jpeg = io.BytesIO()
                Image.new("RGB", (size, size), RGB[COLORS[label]]).save(jpeg, format="JPEG")
                _member(tar, f"{key}.jpg", jpeg.getvalue())
                if labels:
                    _member(tar, f"{key}.cls", str(label).encode())
        paths.append(path)
    return paths


TEXTS = {0: ["bad plot", "awful acting", "dull movie", "boring story"],
         1: ["good film", "lovely story", "great fun", "fine cast"]}


def write_parquet_shards(folder: Path, *, shards: int = 3, per_shard: int = 4, prefix: str = "train") -> list[Path]:
    """``folder/<prefix>-000.parquet`` ...: columns "text", "label" (0 neg, 1 pos) and a unique "id"."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for shard in range(shards):
        ids = [shard * per_shard + i for i in range(per_shard)]
        labels = [n % 2 for n in ids]
        texts = [TEXTS[label][n % 4] for n, label in zip(ids, labels)]
        path = folder / f"{prefix}-{shard:03d}.parquet"
        pq.write_table(pa.table({"text": texts, "label": labels, "id": ids}), path)
        paths.append(path)
    return paths
