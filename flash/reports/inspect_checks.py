"""The checks behind ``flash data inspect``: labels and counts, files (images, audio, texts), boxes, duplicates."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from flash.reports.inspect import FEW, IMBALANCE, Inspection, Item, content_hash

OUTSIDE, NO_AREA = "boxes reach outside their image", "boxes have no area"


def _labels(item: Item) -> list[str]:
    if isinstance(item.label, (list, tuple)):
        return [str(label) for label in item.label]
    return [str(item.label)] if item.label is not None else []


def check_labels(result: Inspection, items: dict[str, list[Item]], *, multi: bool) -> None:
    """Counts per split and class; strong imbalance, too few examples, labels found only in val/test."""
    if result.task == "speech_recognition":  # labels are transcripts: counts per split only
        result.counts = {split: Counter({"utterances": len(rows)}) for split, rows in items.items()}
        return
    result.counts = {split: Counter(label for item in rows for label in _labels(item)) for split, rows in items.items()}
    train = result.counts.get("train", Counter())
    if train:
        (top, most), (bottom, least) = train.most_common(1)[0], train.most_common()[-1]
        if least and most / least > IMBALANCE:
            what = "boxes" if multi else "examples"
            result.add("warning", f"Strong class imbalance in train: {top!r} has {most} {what}, {bottom!r} {least} "
                                  f"({most / least:.0f}x). Consider more data or class weights.")
        few = sorted(label for label, count in train.items() if count < FEW)
        if few:
            result.add("warning", f"Classes with fewer than {FEW} training examples: {', '.join(few)}.")
    for split in ("val", "test"):
        unseen = sorted(set(result.counts.get(split, ())) - set(train))
        if unseen and train:
            result.add("error", f"Labels in {split} that never appear in train: {', '.join(unseen)}. The model cannot "
                                f"learn them; add training examples or remove them from {split}.")


def check_files(result: Inspection, items: dict[str, list[Item]], *, tokenizer: Callable[[str], list] | None) -> None:
    """Read every file once: sizes/modes, durations/rates, text lengths, boxes, unreadable files, duplicates."""
    hashes: dict[str, dict[str, Item]] = {}
    for split, rows in items.items():
        for item in rows:
            if item.path is not None and not _measure_file(result, item):
                continue
            if item.text is not None:
                key = "text lengths (tokens)" if tokenizer is not None else "text lengths (words)"
                result.measures.setdefault(key, []).append(_length(item.text, tokenizer))
            digest = content_hash(item)
            if digest is not None:
                hashes.setdefault(split, {}).setdefault(digest, item)
    _box_findings(result)
    if result.task == "speech_recognition":
        for rows in items.values():
            result.measures.setdefault("transcript lengths (words)", []).extend(len(str(i.label).split()) for i in rows)
    for split in ("val", "test"):
        shared = sorted(set(hashes.get("train", {})) & set(hashes.get(split, {})))
        if shared:
            pairs = [f"{_where(hashes['train'][h])} = {_where(hashes[split][h])}" for h in shared[:3]]
            result.add("warning", f"{len(shared)} {split} samples are exact copies of training samples (by content "
                                  f"hash), so {split} scores will be too high: {'; '.join(pairs)}"
                                  f"{' ...' if len(shared) > 3 else ''}.")


def _where(item: Item) -> str:
    return f"'{item.path}'" if item.path is not None else repr((item.text or "")[:40])


def _length(text: str, tokenizer: Callable[[str], list] | None) -> int:
    return len(tokenizer(text)) if tokenizer is not None else len(text.split())


def _measure_file(result: Inspection, item: Item) -> bool:
    """Record the file's measurements; an unreadable file is an error (False)."""
    from flash.audio.speech_recognition.io import is_audio_file

    if item.path is None or not item.path.is_file():
        result.add("error", f"Missing file '{item.path}' ({item.split}). Fix the path or remove the entry.")
        return False
    if is_audio_file(item.path):
        return _measure_audio(result, item)
    return _measure_image(result, item)


def _measure_image(result: Inspection, item: Item) -> bool:
    from PIL import Image

    from flash.image.io import check_image

    assert item.path is not None  # _measure_file checked it
    problem = check_image(item.path)
    if problem:
        result.add("error", problem)
        return False
    with Image.open(item.path) as image:
        width, height = image.size
        result.tallies.setdefault("image modes", Counter())[image.mode] += 1
    result.measures.setdefault("image sizes", []).append((width, height))
    if item.boxes is not None:
        _measure_boxes(result, item, width, height)
    return True


def _measure_boxes(result: Inspection, item: Item, width: int, height: int) -> None:
    if item.boxes is None:
        return
    result.measures.setdefault("boxes per image", []).append(len(item.boxes))
    for box in item.boxes:
        x1, y1, x2, y2 = (float(v) for v in box)
        result.measures.setdefault("box sizes", []).append((x2 - x1, y2 - y1))
        if x2 <= x1 or y2 <= y1:
            result.measures.setdefault(NO_AREA, []).append(f"'{item.path}' box {box}")
        elif x1 < 0 or y1 < 0 or x2 > width or y2 > height:
            result.measures.setdefault(OUTSIDE, []).append(f"'{item.path}' box {box} ({width}x{height} image)")


def _box_findings(result: Inspection) -> None:
    """One warning per kind of bad box, with the count and the first few."""
    for key, fate in ((OUTSIDE, "clips them"), (NO_AREA, "drops them")):
        bad = result.measures.pop(key, [])
        if bad:
            result.add("warning", f"{len(bad)} {key}; training {fate} (bad_boxes='raise' would stop): "
                                  f"{'; '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}.")


def _measure_audio(result: Inspection, item: Item) -> bool:
    import soundfile

    try:
        info = soundfile.info(str(item.path))
    except Exception as err:  # noqa: BLE001 - libsndfile raises RuntimeError/LibsndfileError/TypeError
        result.add("error", f"Cannot read audio '{item.path}': {err}. Remove or replace the file.")
        return False
    result.measures.setdefault("durations (s)", []).append(info.frames / max(info.samplerate, 1))
    result.tallies.setdefault("sample rates (Hz)", Counter())[info.samplerate] += 1
    result.tallies.setdefault("channels", Counter())[info.channels] += 1
    return True
