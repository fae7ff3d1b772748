"""Keep what the last validation pass produced, so a report needs no second prediction pass.

Tasks return their evaluation outputs from ``validation_step``; :class:`Collected` keeps them by kind:

- classification: ``{"preds": (B, C) probabilities, "target": (B,) or (B, C)}``
- detection: ``{"detections": [{"boxes", "labels", "scores"}], "targets": [{"boxes", "labels"}]}``
- speech: ``{"transcripts": [str], "references": [str]}``

plus a few inputs to show (the most confident mistakes, the first detection images).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch

from flash.core.data import INPUT, METADATA

MAX_SHOWN = 16  # mistakes / images kept for the pictures


@dataclass
class Collected:
    """The outputs of one validation pass, on the CPU."""

    preds: list[torch.Tensor] = field(default_factory=list)
    targets: list[torch.Tensor] = field(default_factory=list)
    mistakes: list[tuple[float, Any, int, int]] = field(default_factory=list)  # (probability, view, true, predicted)
    detections: list[dict] = field(default_factory=list)
    box_targets: list[dict] = field(default_factory=list)
    images: list[tuple[torch.Tensor, dict, dict]] = field(default_factory=list)  # (image, detection, target)
    transcripts: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    @property
    def kind(self) -> str | None:
        """``"classification"``, ``"detection"``, ``"speech"``, or None when the task returned nothing usable."""
        if self.preds:
            return "classification"
        if self.detections:
            return "detection"
        if self.transcripts:
            return "speech"
        return None

    @classmethod
    def merged(cls, parts: list[Collected]) -> Collected:
        """One pass's outputs from every process (each saw its shard of the validation data)."""
        whole = cls()
        for part in parts:
            for name in ("preds", "targets", "mistakes", "detections", "box_targets", "images", "transcripts",
                         "references", "names"):
                getattr(whole, name).extend(getattr(part, name))
        whole.mistakes = sorted(whole.mistakes, key=lambda m: -m[0])[:MAX_SHOWN]
        whole.images = whole.images[: MAX_SHOWN // 2]
        return whole

    def add(self, module: Any, outputs: Any, batch: Any) -> None:
        """Keep one validation batch's outputs (``outputs`` is what ``validation_step`` returned)."""
        if not isinstance(outputs, dict):
            return
        if "preds" in outputs and "target" in outputs:
            self._add_classification(module, outputs["preds"].detach().float().cpu(), outputs["target"].detach().cpu(),
                                     batch)
        elif "detections" in outputs and "targets" in outputs:
            self._add_detection(outputs, batch)
        elif "transcripts" in outputs and "references" in outputs:
            self.transcripts += list(outputs["transcripts"])
            self.references += list(outputs["references"])
            self.names += [_name(meta, len(self.names) + i) for i, meta in enumerate(_metadata(batch, outputs))]

    def _add_classification(self, module: Any, preds: torch.Tensor, target: torch.Tensor, batch: Any) -> None:
        self.preds.append(preds)
        self.targets.append(target)
        if target.ndim != 1 or preds.ndim != 2:
            return  # multi-label: per-label tables, no "mistakes" grid
        probability, predicted = preds.max(dim=-1)
        wrong = torch.nonzero(predicted != target).flatten().tolist()
        floor = self.mistakes[-1][0] if len(self.mistakes) >= MAX_SHOWN else -1.0
        for i in sorted(wrong, key=lambda j: -float(probability[j]))[:MAX_SHOWN]:
            if float(probability[i]) > floor:
                view = _view(module, batch, i)
                self.mistakes.append((float(probability[i]), view, int(target[i]), int(predicted[i])))
        self.mistakes = sorted(self.mistakes, key=lambda m: -m[0])[:MAX_SHOWN]

    def _add_detection(self, outputs: dict, batch: Any) -> None:
        detections = [{k: v.detach().cpu() for k, v in d.items()} for d in outputs["detections"]]
        targets = [{k: v.detach().cpu() for k, v in t.items()} for t in outputs["targets"]]
        images = batch.get(INPUT, []) if isinstance(batch, dict) else []
        metadata = batch.get(METADATA) if isinstance(batch, dict) else None
        for i, (image, detection, target) in enumerate(zip(images, detections, targets)):
            if len(self.images) >= MAX_SHOWN // 2:
                break
            size = (metadata[i] if isinstance(metadata, list) else {}).get("size") or image.shape[-2:]
            sy, sx = image.shape[-2] / size[0], image.shape[-1] / size[1]  # original pixels -> the tensor's
            scale = torch.tensor([sx, sy, sx, sy])
            self.images.append((image.detach().float().cpu(), {**detection, "boxes": detection["boxes"] * scale},
                                {**target, "boxes": target["boxes"] * scale}))
        self.detections += detections
        self.box_targets += targets


def _metadata(batch: Any, outputs: dict) -> list[dict]:
    meta = batch.get(METADATA) if isinstance(batch, dict) else None
    return list(meta) if isinstance(meta, list) else [{} for _ in outputs["transcripts"]]


def _name(meta: dict, index: int) -> str:
    for key in ("filepath", "path", "file"):
        if meta.get(key):
            return str(meta[key]).replace("\\", "/").rsplit("/", 1)[-1]
    return f"row {meta.get('row', index)}"


def _view(module: Any, batch: Any, i: int) -> Any:
    """Sample ``i`` of a batch as something to show: an image tensor ``(C, H, W)``, a text, or a short string."""
    inputs = batch.get(INPUT) if isinstance(batch, dict) else None
    if isinstance(inputs, torch.Tensor):
        sample = inputs[i].detach().float().cpu()
        if sample.ndim == 3 and sample.shape[0] in (1, 3, 4):
            return sample
        text = str([round(v, 3) for v in sample.flatten()[:8].tolist()])
        return text[:-1] + ", ...]" if sample.numel() > 8 else text
    if isinstance(inputs, dict) and "input_ids" in inputs and hasattr(getattr(module, "tokenizer", None), "decode"):
        ids = inputs["input_ids"][i]
        mask = inputs.get("attention_mask")
        ids = ids[mask[i].bool()] if mask is not None else ids
        return module.tokenizer.decode(ids.tolist(), skip_special_tokens=True)
    return None
