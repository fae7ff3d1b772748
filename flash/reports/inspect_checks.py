"""The checks behind ``flash data inspect``: labels and counts, files (through the task's ``measure``), texts,
duplicates between splits and inside one split."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from flash.core.reporting.inspection import Item, Measurement
from flash.reports.inspection import FEW, IMBALANCE, Inspection, content_hash

Hashes = dict[str, dict[str, list[Item]]]  # split -> content hash (or path) -> its items, in the order read
_BY = {"content": "by content hash", "path": "the same file listed twice"}


def _labels(item: Item) -> list[str]:
    if isinstance(item.label, (list, tuple)):
        return [str(label) for label in item.label]
    return [str(item.label)] if item.label is not None else []


def check_labels(result: Inspection, items: dict[str, list[Item]], *, labels: str, counted: str = "examples") -> None:
    """Counts per split and class; strong imbalance, too few examples, labels found only in val/test.

    ``labels`` is the adapter's kind: ``"transcripts"`` are counted per split only; ``counted`` names the unit.
    """
    if labels == "transcripts":
        result.counts = {split: Counter({"utterances": len(rows)}) for split, rows in items.items()}
        return
    result.counts = {split: Counter(label for item in rows for label in _labels(item)) for split, rows in items.items()}
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


def check_files(result: Inspection, items: dict[str, list[Item]], *, measure: Callable[[Item], Measurement] | None,
                tokenizer: Callable[[str], list] | None, transcripts: bool = False) -> Hashes:
    """Read every file once through ``measure``; text lengths; problems gathered into warnings.

    Returns the items by split and content hash, for :func:`check_duplicates`.
    """
    hashes: Hashes = {}
    problems: dict[str, list[str]] = {}
    for split, rows in items.items():
        for item in rows:
            if item.path is not None and not _measure_file(result, item, measure, problems):
                continue
            if item.text is not None:
                key = "text lengths (tokens)" if tokenizer is not None else "text lengths (words)"
                result.measures.setdefault(key, []).append(_length(item.text, tokenizer))
            digest = content_hash(item)
            if digest is not None:
                hashes.setdefault(split, {}).setdefault(digest, []).append(item)
    for what, bad in problems.items():
        if bad:
            result.add("warning", f"{len(bad)} {what}: {'; '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}.")
    if transcripts:
        for rows in items.values():
            result.measures.setdefault("transcript lengths (words)", []).extend(len(str(i.label).split()) for i in rows)
    return hashes


def _measure_file(result: Inspection, item: Item, measure: Callable[[Item], Measurement] | None,
                  problems: dict[str, list[str]]) -> bool:
    """Record the file's measurements; a missing or unreadable file is an error (False)."""
    from flash.errors import DataError

    if item.path is None or not item.path.is_file():
        result.add("error", f"Missing file '{item.path}' ({item.split}). Fix the path or remove the entry.")
        return False
    if measure is None:
        return True
    try:
        measured = measure(item)
    except DataError as err:
        result.add("error", str(err))
        return False
    for name, values in measured.measures.items():
        result.measures.setdefault(name, []).extend(values)
    for name, keys in measured.tallies.items():
        result.tallies.setdefault(name, Counter()).update(keys)
    for what, examples in measured.problems.items():
        problems.setdefault(what, []).extend(examples)
    return True


def check_duplicates(result: Inspection, hashes: Hashes, items: dict[str, list[Item]], *,
                     same_input: str = "content") -> None:
    """Exact copies (by content hash) of training samples in val/test; one input given twice inside a split (the
    same content, or with ``same_input="path"`` the same file listed twice): an error when the copies carry
    different labels (the model is told two answers for one input), else a warning."""
    train = hashes.get("train", {})
    for split in ("val", "test"):
        shared = sorted(set(train) & set(hashes.get(split, {})))
        if shared:
            pairs = [f"{_where(train[h][0])} = {_where(hashes[split][h][0])}" for h in shared[:3]]
            result.add("warning", f"{len(shared)} {split} samples are exact copies of training samples (by content "
                                  f"hash), so {split} scores will be too high: {'; '.join(pairs)}"
                                  f"{' ...' if len(shared) > 3 else ''}.")
    groups = hashes if same_input == "content" else _by_path(items)
    for split, by_key in groups.items():
        clashes: list[tuple[Item, Item]] = []
        copies: list[tuple[Item, Item]] = []
        for first, *others in (group for group in by_key.values() if len(group) > 1):
            for other in others:
                (copies if _answer(other) == _answer(first) else clashes).append((first, other))
        if clashes:
            result.add("error", f"{len(clashes)} {split} samples are copies of other {split} samples "
                                f"({_BY[same_input]}) with different labels: the model is told two answers for one "
                                f"input. Keep one copy, with the right label: {_pairs(clashes, labelled=True)}.")
        if copies:
            result.add("warning", f"{len(copies)} {split} samples are copies of other {split} samples "
                                  f"({_BY[same_input]}) with the same label, so they count twice in training. Remove "
                                  f"the copies: {_pairs(copies, labelled=False)}.")


def _by_path(items: dict[str, list[Item]]) -> Hashes:
    groups: Hashes = {}
    for split, rows in items.items():
        for item in rows:
            if item.path is not None:
                groups.setdefault(split, {}).setdefault(str(item.path.resolve()), []).append(item)
    return groups


def _answer(item: Item) -> tuple[Any, Any]:
    return _labels(item), item.boxes


def _pairs(pairs: list[tuple[Item, Item]], *, labelled: bool) -> str:
    shown = [f"{_named(a, labelled=labelled)} = {_named(b, labelled=labelled)}" for a, b in pairs[:3]]
    return "; ".join(shown) + (" ..." if len(pairs) > 3 else "")


def _named(item: Item, *, labelled: bool) -> str:
    """The file, or the row and the start of its text; with ``labelled``, its label (and boxes)."""
    where = _where(item) if item.path is not None or item.row is None else f"row {item.row} {_where(item)}"
    if not labelled:
        return where
    boxes = f" with boxes {item.boxes}" if item.boxes is not None else ""
    return f"{where} ({item.label!r}{boxes})"


def _where(item: Item) -> str:
    return f"'{item.path}'" if item.path is not None else repr((item.text or "")[:40])


def _length(text: str, tokenizer: Callable[[str], list] | None) -> int:
    return len(tokenizer(text)) if tokenizer is not None else len(text.split())
