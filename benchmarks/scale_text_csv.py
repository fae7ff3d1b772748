"""Reading a large text CSV: ``TextClassificationData.from_csv`` against pandas + a hand Dataset whose collate
tokenizes, in the same process, on the same generated file (issue 31).

Timed: reading the CSV, labelling the rows, and the first training batch (tokenized in the collate, batch
32, no workers). The plain side is what a user writes: ``pandas.read_csv``, the label column mapped to ids,
a Dataset over the two columns and a DataLoader whose collate calls the tokenizer. The sides alternate;
the median of the repeats is reported. Memory: the bytes still allocated once the data set is built (the
data kept alive), and the peak while building, by ``tracemalloc`` in a separate untimed pass. Checked:
both hold the same texts with the same label ids. Generating the file is not timed.

Measured 2026-12-07 (2 shared CPU cores under other jobs, 1M rows of 4-15 words, 3 string labels, median of 3):
pandas 3.4-6.3 s, flash 4.7-7.9 s, ratio 1.26-1.36x (main before issue 31: 3.5x); memory kept 110.5 MB both
(1.00x), peak while building 173 MB vs 181 MB (0.96x; main: 2.3x).

Usage:
    python benchmarks/scale_text_csv.py            # 1M rows
    python benchmarks/scale_text_csv.py --quick    # 2k rows, seconds
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import tempfile
import time
import tracemalloc
from typing import Any

import numpy as np

WORDS = ("the a film story plot acting music scene was is very quite really not and but with great good fine poor "
         "bad dull boring lovely charming clever slow long short funny sad moving strange simple").split()
LABELS = ("negative", "neutral", "positive")


def write_csv(path: str, rows: int) -> None:
    import pandas as pd

    rng = np.random.default_rng(0)
    words = np.array(WORDS)
    lengths = rng.integers(4, 16, rows)
    picks = rng.integers(0, len(words), int(lengths.sum()))
    ends = np.cumsum(lengths)
    texts = [" ".join(words[picks[end - n:end]]) for end, n in zip(ends, lengths)]
    pd.DataFrame({"text": texts, "label": np.array(LABELS)[rng.integers(0, 3, rows)]}).to_csv(path, index=False)


def make_tokenizer(folder: str) -> Any:
    from transformers import BertTokenizer

    with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as file:
        file.write("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    return BertTokenizer.from_pretrained(folder)


class Rows:
    """The hand side's Dataset: two columns, indexed."""

    def __init__(self, texts: list[str], ids: np.ndarray) -> None:
        self.texts, self.ids = texts, ids

    def __len__(self) -> int:
        return len(self.texts)

    def __getitem__(self, index: int) -> tuple[str, int]:
        return self.texts[index], int(self.ids[index])


def pandas_side(path: str, tokenizer: Any) -> tuple[Any, Any]:
    import pandas as pd
    import torch
    from torch.utils.data import DataLoader

    df = pd.read_csv(path)
    names = sorted(df["label"].unique())
    dataset = Rows(df["text"].tolist(), df["label"].map({n: i for i, n in enumerate(names)}).to_numpy())

    def collate(batch: list) -> dict:
        encoded = tokenizer([t for t, _ in batch], padding="longest", truncation=True, max_length=64,
                            return_tensors="pt")
        return {"input": dict(encoded), "target": torch.tensor([y for _, y in batch])}

    batch = next(iter(DataLoader(dataset, batch_size=32, shuffle=True, collate_fn=collate)))  # type: ignore[arg-type]
    return (dataset, names), batch


def flash_side(path: str, tokenizer: Any) -> tuple[Any, Any]:
    from flash.text import TextClassificationData

    datamodule = TextClassificationData.from_csv("text", "label", train_file=path, batch_size=32, num_workers=0)
    datamodule.transform.set_tokenizer(tokenizer, max_length=64)  # what TextClassifier does in setup
    return datamodule, next(iter(datamodule.train_dataloader()))


def _memory(build: Any) -> tuple[float, float]:
    """(bytes still allocated with the result alive, peak bytes while building), by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    kept = build()
    after, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del kept
    return after - before, peak - before


def run(*, quick: bool = False, rows: int | None = None, repeats: int | None = None) -> dict[str, Any]:
    rows = rows or (2_000 if quick else 1_000_000)
    repeats = repeats or (2 if quick else 3)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "train.csv")
        write_csv(path, rows)
        tokenizer = make_tokenizer(tmp)
        flash_side(path, tokenizer), pandas_side(path, tokenizer)  # warm: page cache, imports
        hand_times, flash_times = [], []
        for _ in range(repeats):
            gc.collect()
            start = time.perf_counter()
            (dataset, names), hand_batch = pandas_side(path, tokenizer)
            hand_times.append(time.perf_counter() - start)
            del hand_batch
            gc.collect()
            start = time.perf_counter()
            datamodule, flash_batch = flash_side(path, tokenizer)
            flash_times.append(time.perf_counter() - start)
        columns = datamodule.train_dataset.samples
        same = (list(columns.inputs) == dataset.texts and np.array_equal(np.asarray(columns.targets), dataset.ids)
                and datamodule.labels == names)
        del datamodule, dataset
        hand_kept, hand_peak = _memory(lambda: pandas_side(path, tokenizer))
        flash_kept, flash_peak = _memory(lambda: flash_side(path, tokenizer))
    return {"rows": rows, "pandas_s": statistics.median(hand_times), "flash_s": statistics.median(flash_times),
            "ratio": statistics.median(flash_times) / statistics.median(hand_times), "same_texts_and_labels": same,
            "flash_batch_keys": sorted(flash_batch["input"]), "pandas_kept_mb": hand_kept / 2**20,
            "flash_kept_mb": flash_kept / 2**20, "kept_ratio": flash_kept / hand_kept,
            "pandas_peak_mb": hand_peak / 2**20, "flash_peak_mb": flash_peak / 2**20,
            "peak_ratio": flash_peak / hand_peak}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2k rows instead of 1M")
    parser.add_argument("--rows", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args()
    result = run(quick=args.quick, rows=args.rows, repeats=args.repeats)
    for key, value in result.items():
        print(f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}")
    print(f"read + label + first batch, ratio flash/pandas: {result['ratio']:.2f}x time, "
          f"{result['kept_ratio']:.2f}x memory kept, {result['peak_ratio']:.2f}x peak (targets <= 1.5)")


if __name__ == "__main__":
    main()
