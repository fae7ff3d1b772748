"""The checks behind ``flash data inspect``, in one pass over each split's items (which may be a lazy stream).

:func:`scan` counts labels, reads each file once (its bytes are hashed and handed to the task's
``measure_bytes``), measures texts; :func:`check_labels` and :func:`check_duplicates` then judge what it kept.
What is kept per sample is columnar (:class:`Seen`): its name in one list, its answer in another, its 20-byte
content hash in a dict to its index; the items themselves are dropped as they pass, so 100k images take a few
tens of MB.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flash.core.reporting.inspection import Item, Measurement
from flash.errors import DataError
from flash.reports.inspection import FEW, IMBALANCE, Inspection

#: ``progress(done)``: called with the number of samples read since the last call (every ``PROGRESS_EVERY``).
Progress = Callable[[int], None]
PROGRESS_EVERY = 256
_BY = {"content": "by content hash", "path": "the same file listed twice"}


@dataclass
class Seen:
    """One split's samples as the checks need them, by index: where each is, its answer, its keys."""

    names: list[str] = field(default_factory=list)  # "'data/cat/1.jpg'" or "row 3 'a great film'"
    labels: list[Any] = field(default_factory=list)  # its label as read (a class, a list, a transcript)
    boxes: list[Any] = field(default_factory=list)  # its boxes, or None
    by_content: dict[bytes, int] = field(default_factory=dict)  # SHA-1 of the bytes or text -> first index
    by_path: dict[str, int] = field(default_factory=dict)  # resolved path -> first index (same_input="path")
    copies: list[tuple[int, int]] = field(default_factory=list)  # (first, later) inputs given twice in the split

    def add(self, item: Item, digest: bytes, *, same_input: str) -> None:
        index = len(self.names)
        self.names.append(_name(item))
        self.labels.append(item.label)
        self.boxes.append(item.boxes)
        first = self.by_content.setdefault(digest, index)
        if same_input == "path":
            first = self.by_path.setdefault(os.path.realpath(item.path), index) if item.path is not None else index
        if first != index:
            self.copies.append((first, index))

    def answer(self, index: int) -> tuple[list[str], Any]:
        """What the sample tells the model: its labels (as strings) and boxes."""
        return _labels(self.labels[index]), self.boxes[index]


@dataclass
class _Pass:
    """What one pass gathers besides :class:`Seen`: errors in the order met, problems by kind, shared tuples."""

    errors: list[str] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)
    pairs: dict[tuple, tuple] = field(default_factory=dict)  # one object per distinct (width, height)


def _labels(label: Any) -> list[str]:
    if isinstance(label, (list, tuple)):
        return [str(one) for one in label]
    return [str(label)] if label is not None else []


def scan(result: Inspection, items: Mapping[str, Iterable[Item]], *, adapter: Any,
         tokenizer: Callable[[str], list] | None = None,
         progress: Progress | None = None) -> tuple[dict[str, Seen], int]:
    """Count, read, measure and hash every item once; errors and problems go to ``result`` (after the labels'
    findings, which :func:`check_labels` adds). Returns what each split kept, for the checks, and the item count."""
    transcripts, found = adapter.labels == "transcripts", _Pass()
    seen: dict[str, Seen] = {}
    lengths: list[int] = []
    total = 0
    for split, rows in items.items():
        counts: Counter[str] = Counter()
        seen[split] = Seen()
        done = 0
        for item in rows:
            done += 1
            if progress is not None and done % PROGRESS_EVERY == 0:
                progress(PROGRESS_EVERY)
            if transcripts:
                lengths.append(len(str(item.label).split()))
            elif isinstance(item.label, str):
                counts[item.label] += 1
            else:
                counts.update(_labels(item.label))
            digest = _read(result, item, adapter, tokenizer, found)
            if digest is not None:
                seen[split].add(item, digest, same_input=getattr(adapter, "same_input", "content"))
        if progress is not None:
            progress(done % PROGRESS_EVERY)
        result.counts[split] = Counter({"utterances": done}) if transcripts else counts
        total += done
    check_labels(result, transcripts=transcripts, counted=getattr(adapter, "counted", "examples"))
    for message in found.errors:
        result.add("error", message)
    for what, bad in found.problems.items():
        if bad:
            result.add("warning", f"{len(bad)} {what}: {'; '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}.")
    if transcripts:
        result.measures.setdefault("transcript lengths (words)", []).extend(lengths)
    return seen, total


def _read(result: Inspection, item: Item, adapter: Any, tokenizer: Callable[[str], list] | None,
          found: _Pass) -> bytes | None:
    """The item's content hash after measuring it; None (an error recorded) when its file cannot be read."""
    if item.path is not None:
        try:
            data = read_bytes(item.path)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            found.errors.append(f"Missing file '{item.path}' ({item.split}). Fix the path or remove the entry.")
            return None
        except OSError as err:
            found.errors.append(f"Cannot read file '{item.path}' ({item.split}): {err.strerror or err}. Check the "
                                f"file and its permissions.")
            return None
        if not _measure(result, item, data, adapter, found):
            return None
        return hashlib.sha1(data).digest()
    if item.text is None:
        return None
    key = "text lengths (tokens)" if tokenizer is not None else "text lengths (words)"
    length = len(tokenizer(item.text)) if tokenizer is not None else len(item.text.split())
    result.measures.setdefault(key, []).append(length)
    return hashlib.sha1(item.text.encode("utf-8")).digest()


def read_bytes(path: str | os.PathLike) -> bytes:
    """The whole file, through ``os.read``: about 15 us a file less than ``open(path, "rb").read()`` (no buffered
    reader, no ``fstat``), which at 100k small images is a tenth of ``flash data inspect``'s time."""
    handle = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        chunks = []
        while chunk := os.read(handle, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(handle)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def _measure(result: Inspection, item: Item, data: bytes, adapter: Any, found: _Pass) -> bool:
    """Record what the adapter measures of the file (from ``data`` when it can); False when it is unreadable."""
    measure_bytes, measure = getattr(adapter, "measure_bytes", None), adapter.measure
    if measure_bytes is None and measure is None:
        return True
    try:
        measured: Measurement = measure_bytes(item, data) if measure_bytes is not None else measure(item)
    except DataError as err:
        found.errors.append(str(err))
        return False
    for name, values in measured.measures.items():
        kept = result.measures.setdefault(name, [])
        for value in values:  # equal (width, height) pairs kept as one object: 8 bytes per image, not 64
            kept.append(found.pairs.setdefault(value, value) if isinstance(value, tuple) else value)
    for name, keys in measured.tallies.items():
        result.tallies.setdefault(name, Counter()).update(keys)
    for what, examples in measured.problems.items():
        found.problems.setdefault(what, []).extend(examples)
    return True


def check_labels(result: Inspection, *, transcripts: bool = False, counted: str = "examples") -> None:
    """Strong imbalance, too few examples, labels found only in val/test (from ``result.counts``).

    Transcripts are counted per split only; ``counted`` names the unit.
    """
    if transcripts:
        return
    train = result.counts.get("train", Counter())
    if train:
        (top, most), (bottom, least) = train.most_common(1)[0], train.most_common()[-1]
        if least and most / least > IMBALANCE:
            result.add("warning", f"Strong class imbalance in train: {top!r} has {most} {counted}, {bottom!r} {least} "
                                  f"({most / least:.0f}x). Consider more data or class weights.")
        few = sorted(label for label, count in train.items() if count < FEW)
        if few:
            result.add("warning", f"Classes with fewer than {FEW} training examples: {', '.join(few)}.")
    for split in ("val", "test"):
        unseen = sorted(set(result.counts.get(split, ())) - set(train))
        if unseen and train:
            result.add("error", f"Labels in {split} that never appear in train: {', '.join(unseen)}. The model cannot "
                                f"learn them; add training examples or remove them from {split}.")


def check_duplicates(result: Inspection, seen: dict[str, Seen], *, same_input: str = "content") -> None:
    """Exact copies (by content hash) of training samples in val/test; one input given twice inside a split (the
    same content, or with ``same_input="path"`` the same file listed twice): an error when the copies carry
    different labels (the model is told two answers for one input), else a warning."""
    train = seen.get("train", Seen())
    for split in ("val", "test"):
        other = seen.get(split, Seen())
        shared = [(train.by_content[digest], index) for digest, index in other.by_content.items()
                  if digest in train.by_content]
        if shared:
            pairs = [f"{train.names[a]} = {other.names[b]}" for a, b in shared[:3]]
            result.add("warning", f"{len(shared)} {split} samples are exact copies of training samples (by content "
                                  f"hash), so {split} scores will be too high: {'; '.join(pairs)}"
                                  f"{' ...' if len(shared) > 3 else ''}.")
    for split, kept in seen.items():
        clashes = [(a, b) for a, b in kept.copies if kept.answer(a) != kept.answer(b)]
        copies = [(a, b) for a, b in kept.copies if kept.answer(a) == kept.answer(b)]
        if clashes:
            result.add("error", f"{len(clashes)} {split} samples are copies of other {split} samples "
                                f"({_BY[same_input]}) with different labels: the model is told two answers for one "
                                f"input. Keep one copy, with the right label: {_pairs(kept, clashes, labelled=True)}.")
        if copies:
            result.add("warning", f"{len(copies)} {split} samples are copies of other {split} samples "
                                  f"({_BY[same_input]}) with the same label, so they count twice in training. Remove "
                                  f"the copies: {_pairs(kept, copies, labelled=False)}.")


def _pairs(kept: Seen, pairs: list[tuple[int, int]], *, labelled: bool) -> str:
    shown = [f"{_named(kept, a, labelled=labelled)} = {_named(kept, b, labelled=labelled)}" for a, b in pairs[:3]]
    return "; ".join(shown) + (" ..." if len(pairs) > 3 else "")


def _named(kept: Seen, index: int, *, labelled: bool) -> str:
    """The sample's name; with ``labelled``, its label (and boxes)."""
    if not labelled:
        return kept.names[index]
    boxes = kept.boxes[index]
    return f"{kept.names[index]} ({kept.labels[index]!r}{f' with boxes {boxes}' if boxes is not None else ''})"


def _name(item: Item) -> str:
    """The file, or the row and the start of its text."""
    if item.path is not None:
        return f"'{item.path}'"
    text = repr((item.text or "")[:40])
    return f"row {item.row} {text}" if item.row is not None else text
