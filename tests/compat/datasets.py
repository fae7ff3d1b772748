"""Tiny stand-ins for the archives Lightning Flash's examples download, in the same layout.

Each builder writes the archive (and any loose files) under ``remote / <host> / <path>``, so an
example's ``https://host/path`` URL becomes ``file://remote/host/path`` and nothing else changes.
"""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import numpy as np

S3 = "pl-flash-data.s3.amazonaws.com"
COCO128 = "github.com/zhiqwang/yolov5-rt-stack/releases/download/v0.3.0"


def _jpg(path: Path, seed: int, size: tuple[int, int] = (24, 32)) -> Path:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 255, (*size, 3), dtype=np.uint8)).save(path)
    return path


def _zip(folder: Path, archive: Path) -> Path:
    """Zip ``folder`` (its name is the archive's top folder, as in the real datasets)."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(folder.rglob("*")):
            out.write(path, path.relative_to(folder.parent).as_posix())
    return archive


def _csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])


def hymenoptera(remote: Path, work: Path) -> None:
    root = work / "hymenoptera_data"
    for stage, n in (("train", 4), ("val", 2)):
        for label in ("ants", "bees"):
            for i in range(n):
                _jpg(root / stage / label / f"{label}_{i}.jpg", seed=hash((stage, label, i)) % 1000)
    _zip(root, remote / S3 / "hymenoptera_data.zip")
    for i, name in enumerate(("ant_1.jpg", "ant_2.jpg", "bee_1.jpg")):
        _jpg(remote / S3 / "images" / name, seed=900 + i)


GENRES = ["Action", "Romance", "Crime", "Thriller", "Adventure"]


def movie_posters(remote: Path, work: Path) -> None:
    root = work / "movie_posters"
    rng = np.random.default_rng(0)
    for stage, n in (("train", 4), ("val", 2)):
        rows = []
        for i in range(n):
            file_id = f"tt{stage}{i:03d}"
            _jpg(root / stage / f"{file_id}.jpg", seed=i + (0 if stage == "train" else 50))
            flags = [int(x) for x in rng.integers(0, 2, len(GENRES))]
            rows.append([file_id, "|".join(g for g, f in zip(GENRES, flags) if f), *flags])
        _csv(root / stage / "metadata.csv", ["Id", "Genre", *GENRES], rows)
    for i, file_id in enumerate(("tt0085318", "tt0089461", "tt0097179")):
        _jpg(root / "predict" / f"{file_id}.jpg", seed=200 + i)
    _zip(root, remote / S3 / "movie_posters.zip")


def coco128(remote: Path, work: Path) -> None:
    root = work / "coco128"
    names = [f"{i:012d}.jpg" for i in (625, 626, 629, 630, 631, 632, 633, 634, 635, 636)]
    images, annotations = [], []
    for i, name in enumerate(names):
        _jpg(root / "images" / "train2017" / name, seed=300 + i, size=(48, 64))
        images.append({"id": i + 1, "file_name": name, "height": 48, "width": 64})
        annotations.append({"id": i + 1, "image_id": i + 1, "category_id": 1 + i % 2, "iscrowd": 0,
                            "bbox": [4.0 + i, 6.0, 20.0, 18.0], "area": 360.0})
    categories = [{"id": 1, "name": "person"}, {"id": 2, "name": "bicycle"}]
    ann = root / "annotations" / "instances_train2017.json"
    ann.parent.mkdir(parents=True, exist_ok=True)
    ann.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    _zip(root, remote / COCO128 / "coco128.zip")


def imdb(remote: Path, work: Path) -> None:
    from tests.text.helpers import make_reviews

    root = work / "imdb"
    for name, n, seed in (("train.csv", 8, 0), ("valid.csv", 4, 1)):
        texts, labels = make_reviews(n, seed=seed)
        _csv(root / name, ["review", "sentiment"], [[t, {"pos": "positive", "neg": "negative"}[s]]
                                                     for t, s in zip(texts, labels)])
    _zip(root, remote / S3 / "imdb.zip")


TOXIC = ["toxic", "severe_toxic", "obscene", "threat", "insult", "identity_hate"]


def jigsaw(remote: Path, work: Path) -> None:
    from tests.text.helpers import make_reviews

    root = work / "jigsaw_toxic_comments"
    texts, _ = make_reviews(10, seed=2)
    rng = np.random.default_rng(1)
    rows = [[f"id{i}", text, *(int(x) for x in rng.integers(0, 2, len(TOXIC)))] for i, text in enumerate(texts)]
    _csv(root / "train.csv", ["id", "comment_text", *TOXIC], rows)
    _zip(root, remote / S3 / "jigsaw_toxic_comments.zip")


def timit(remote: Path, work: Path) -> None:
    import soundfile as sf

    root = work / "timit"
    rng = np.random.default_rng(0)
    words = ["she had your dark suit", "in greasy wash water", "all year", "dont ask me"]
    for stage, n in (("train", 4), ("test", 2)):
        lines = []
        for i in range(n):
            relative = f"{stage}/clip_{i}.wav"
            (root / stage).mkdir(parents=True, exist_ok=True)
            sf.write(root / relative, (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
            lines.append(json.dumps({"file": relative, "text": words[i % len(words)]}))
        (root / f"{stage}.json").write_text("\n".join(lines) + "\n")
    sf.write(root / "example.wav", (0.1 * rng.standard_normal(8000)).astype(np.float32), 16000)
    _zip(root, remote / S3 / "timit_data.zip")
