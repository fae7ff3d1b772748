"""Recognise a Lightning-format (Lightning Flash 0.8.x) checkpoint without unpickling it, and say how to convert it.

Such a file is a pickle of arbitrary objects; flash reads checkpoints with ``torch.load(weights_only=True)``
and never unpickles them. The hint gives a one-liner to run only on a file the user trusts.

Example:
    >>> lightning_checkpoint_hint("model.pt")  # doctest: +SKIP
    "'model.pt' is a Lightning-format checkpoint ..."
"""

from __future__ import annotations

import os
import zipfile

_MARKERS = (b"pytorch-lightning_version", b"pytorch_lightning", b"lightning.pytorch")


def is_lightning_checkpoint(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a torch zip checkpoint whose pickle names Lightning (read as bytes, never unpickled)."""
    try:
        with zipfile.ZipFile(path) as archive:
            pickles = [n for n in archive.namelist() if n.endswith("data.pkl")]
            return any(marker in archive.read(name) for name in pickles for marker in _MARKERS)
    except (OSError, zipfile.BadZipFile, KeyError):
        return False


def lightning_checkpoint_hint(path: str | os.PathLike) -> str:
    """What to do with a Lightning-format checkpoint: a trusted one-liner that keeps only its tensors."""
    out = f"{os.path.splitext(os.fspath(path))[0]}_weights.pt"
    return (
        f"'{path}' is a Lightning-format checkpoint (e.g. from Lightning Flash 0.8.x). It is a pickle that can run "
        "code when loaded, so flash does not read it. If you trust the file, keep only its weights with: "
        f"python -c \"import torch; c = torch.load('{path}', weights_only=False, map_location='cpu'); "
        f"torch.save(c['state_dict'], '{out}')\" then build the task as before (same backbone, labels) and call "
        f"model.load_state_dict(torch.load('{out}', weights_only=True), strict=False), checking the keys it reports."
    )
