"""FSDP2 state dicts, full or sharded, and sharded checkpoints: a directory with one file per process.

``fabric.save(path, state)`` under ``FSDPStrategy(state_dict_type="sharded")`` writes ``path/`` holding
``rank-00000-of-00002.pt``, ``rank-00001-of-00002.pt``, ... and ``meta.json``. Each rank file is a flash
checkpoint (:mod:`flash.fabric.checkpoint`: a format version, read with ``torch.load(weights_only=True)``)
of that process's own shards as plain tensors (``DTensor.to_local()``) beside the plain values of the state;
``meta.json`` names the format, its version, the world size and which entries are sharded. Nothing is
gathered to one process, so saving needs no more memory than the shards. The directory appears whole or not
at all: the files are written into a hidden sibling (``.<name>.<random>.tmp``) renamed into place once every
process has written, so a crash mid-save leaves the previous checkpoint as it was. Like Lightning, this
assumes a filesystem every process sees (one machine, or a shared one across nodes).

``fabric.load(path, state)`` on such a directory reads only this process's file and rebuilds the DTensors
from the set-up module's and optimizer's own sharded state dicts (same mesh, placements, shape and stride),
so it needs the same number of processes that saved it. A full checkpoint (one file) loads under any
strategy, sharded FSDP included.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from flash.errors import DISTRIBUTION, CheckpointError, invalid_choice
from flash.fabric import checkpoint as checkpoint_io

STATE_DICT_TYPES = ("full", "sharded")
FORMAT = "flash-sharded-checkpoint"
FORMAT_VERSION = 1
META = "meta.json"


def check_state_dict_type(value: str) -> str:
    """``value`` if it is one of :data:`STATE_DICT_TYPES`, else a ConfigurationError listing them."""
    if value not in STATE_DICT_TYPES:
        raise invalid_choice("state_dict_type", value, STATE_DICT_TYPES)
    return value


def rank_file(rank: int, world_size: int) -> str:
    """The name of rank ``rank``'s file in a sharded checkpoint.

    Example:
        >>> rank_file(1, 2)
        'rank-00001-of-00002.pt'
    """
    return f"rank-{rank:05d}-of-{world_size:05d}.pt"


# -- FSDP2 state dicts (torch.distributed.checkpoint.state_dict), whole or this process's shards ------------------
def _options(local: bool, **kwargs: Any) -> Any:
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=not local, **kwargs)


def model_state_dict(module: torch.nn.Module, *, local: bool) -> dict[str, Any]:
    """``module``'s state dict: full tensors (a collective; on the CPU), or ``local``: its DTensors as they are."""
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(module, options=_options(local, cpu_offload=not local))


def optimizer_state_dict(module: torch.nn.Module, optimizer: torch.optim.Optimizer, *, local: bool) -> dict[str, Any]:
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(module, optimizer, options=_options(local, cpu_offload=not local))


def load_model_state_dict(module: torch.nn.Module, state: dict[str, Any], *, strict: bool, local: bool) -> None:
    """Set ``module``'s state: from full tensors, or ``local``: from this process's shards as plain tensors."""
    from torch.distributed.checkpoint.state_dict import set_model_state_dict

    if local:
        state = as_dtensors(state, model_state_dict(module, local=True))
        set_model_state_dict(module, state, options=_options(True, strict=strict))
    else:
        set_model_state_dict(module, state, options=_options(False, broadcast_from_rank0=False, strict=strict))


def load_optimizer_state_dict(module: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any], *,
                              local: bool) -> None:
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    if local:  # the template holds every state entry: torch initialises a fresh optimizer's state first
        state = as_dtensors(state, optimizer_state_dict(module, optimizer, local=True))
    set_optimizer_state_dict(module, optimizer, state, options=_options(local))


def writes_sharded(strategy: Any) -> bool:
    """Whether ``fabric.save`` under ``strategy`` writes a sharded directory (FSDP with state_dict_type='sharded')."""
    return getattr(strategy, "state_dict_type", "full") == "sharded"


# -- DTensors <-> plain tensors ---------------------------------------------------------------------------------
def _is_dtensor(value: Any) -> bool:
    from torch.distributed.tensor import DTensor

    return isinstance(value, DTensor)


def to_local(value: Any, where: tuple = (), sharded: list | None = None) -> Any:
    """``value`` with every DTensor replaced by a CPU copy of its local shard; their key paths go to ``sharded``."""
    if _is_dtensor(value):
        if sharded is not None:
            sharded.append(list(where))
        return value.to_local().detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: to_local(v, (*where, k), sharded) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(to_local(v, (*where, i), sharded) for i, v in enumerate(value))
    return value


def as_dtensors(saved: Any, template: Any, where: tuple = ()) -> Any:
    """``saved`` with each plain tensor whose place in ``template`` holds a DTensor made that DTensor's shard."""
    from torch.distributed.tensor import DTensor

    if isinstance(template, DTensor) and isinstance(saved, torch.Tensor) and not isinstance(saved, DTensor):
        local = template.to_local()
        if tuple(saved.shape) != tuple(local.shape):
            name = ".".join(str(k) for k in where)
            raise CheckpointError(
                f"The saved shard of '{name}' has shape {tuple(saved.shape)}, but this process's shard of the model's "
                f"has {tuple(local.shape)} (a different model, or a different sharding). Load it into the model that "
                f"saved it, with the same number of processes. Received: '{name}' shard {tuple(saved.shape)}"
            )
        return DTensor.from_local(saved.to(local.device), template.device_mesh, template.placements,
                                  shape=template.shape, stride=template.stride())
    if isinstance(saved, dict) and isinstance(template, dict):
        return {k: as_dtensors(v, template[k], (*where, k)) if k in template else v for k, v in saved.items()}
    if isinstance(saved, (list, tuple)) and isinstance(template, (list, tuple)) and len(saved) == len(template):
        return type(saved)(as_dtensors(s, t, (*where, i)) for i, (s, t) in enumerate(zip(saved, template)))
    return saved


# -- writing ----------------------------------------------------------------------------------------------------
def write(checkpoint: dict[str, Any], path: str | os.PathLike, strategy: Any, *, sharded: bool) -> None:
    """Write ``checkpoint``: one file from rank 0 (full state dicts), or ``sharded``: a directory of every rank's
    shards (:func:`save_sharded`). Collective: every process calls it."""
    if sharded:
        save_sharded(checkpoint, path, strategy)
        return
    checkpoint_io.save_on_rank_zero(checkpoint, path, strategy)


def save_sharded(checkpoint: dict[str, Any], path: str | os.PathLike, strategy: Any) -> Path:
    """Write this process's part of ``checkpoint`` (DTensors as their local shards) into the directory ``path``,
    atomically as a whole: into a hidden sibling renamed into place once every process has written."""
    path = Path(path)
    _check_replaceable(path)  # on every process (one shared filesystem): all raise, or none
    rank, world_size = strategy.rank, strategy.world_size
    sharded: list = []
    local = to_local(checkpoint, (), sharded)
    error: BaseException | None = None
    made = None
    if strategy.is_global_zero:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            made = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=checkpoint_io.TMP_SUFFIX, dir=path.parent)
        except OSError as err:
            error = err
    made = strategy.broadcast_object(made)  # every process learns whether rank 0 could make it
    if made is None:
        raise error or CheckpointError(f"Rank 0 could not create a directory beside '{path}' (see its error). "
                                       f"Check that the folder is writable. Received: path='{path}'")
    tmp = Path(made)
    try:
        checkpoint_io.save_checkpoint(local, tmp / rank_file(rank, world_size))
    except Exception as err:  # every process must learn of it, or the others wait forever at the rename
        error = err
    failed = [r for r, bad in enumerate(strategy.all_gather_object(error is not None)) if bad]
    done = False
    if strategy.is_global_zero:
        try:
            if not failed:
                meta = {"format": FORMAT, "version": FORMAT_VERSION, "world_size": world_size, "sharded": sharded}
                (tmp / META).write_text(json.dumps(meta, indent=1))
                _replace(tmp, path)
                done = True
        except Exception as err:
            error = err
        finally:
            shutil.rmtree(tmp, ignore_errors=True)  # gone already when it became ``path``
    if not strategy.broadcast_object(done):  # a barrier too: nobody reads ``path`` before it is in place
        if error is not None:
            raise error
        raise CheckpointError(
            f"Rank(s) {failed or [0]} failed to write their part of '{path}' (see their error); nothing was "
            f"written and the previous '{path.name}', if any, is intact. Received: failed ranks {failed or [0]}"
        )
    return path


def _check_replaceable(path: Path) -> None:
    """Refuse to replace a directory that is neither empty nor a sharded checkpoint (a user's folder)."""
    if path.is_dir() and not path.is_symlink() and any(path.iterdir()) and not (path / META).is_file():
        raise CheckpointError(
            f"Cannot save a sharded checkpoint to '{path}': it is a directory holding other files, not an earlier "
            f"sharded checkpoint, and saving would replace it. Pass a new path, e.g. '{path / 'checkpoint'}'. "
            f"Received: path='{path}'"
        )


def _replace(tmp: Path, path: Path) -> None:
    """Rename the complete directory ``tmp`` to ``path``, replacing a file or directory there.

    A directory cannot be renamed over a non-empty one, so an old ``path`` is first renamed aside to
    ``.<name>.<random>.old`` and deleted after; a crash between the two renames leaves it there, whole.
    """
    old = None
    if path.exists() or path.is_symlink():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        old.rmdir()
        os.replace(path, old)
    try:
        os.replace(tmp, path)
    except OSError:
        if old is not None:
            os.replace(old, path)  # put the previous checkpoint back
        raise
    if old is not None:
        if old.is_dir() and not old.is_symlink():
            shutil.rmtree(old, ignore_errors=True)
        else:
            old.unlink()


# -- reading ----------------------------------------------------------------------------------------------------
def read(path: str | os.PathLike, strategy: Any) -> tuple[dict[str, Any], bool]:
    """The checkpoint at ``path`` without its version key, and whether it is sharded: a file is read whole; a
    sharded directory gives this process's file (its shards as plain tensors), checked against ``meta.json``."""
    if not Path(path).is_dir():
        checkpoint = checkpoint_io.load_checkpoint(path)
        checkpoint.pop(checkpoint_io.VERSION_KEY, None)
        return checkpoint, False
    path = Path(path)
    meta = read_meta(path)
    if not hasattr(strategy, "state_dict_type"):
        raise CheckpointError(
            f"'{path}' is a sharded FSDP checkpoint (one file per process, {meta['world_size']} processes), and "
            f"strategy='{strategy.name}' cannot load shards. Load it with Fabric(strategy='fsdp', "
            f"devices={meta['world_size']}) and save it again under FSDPStrategy(state_dict_type='full') to get "
            f"one file any strategy reads. Received: path='{path}', strategy='{strategy.name}'"
        )
    if meta["world_size"] != strategy.world_size:
        raise CheckpointError(
            f"'{path}' was saved sharded by {meta['world_size']} processes, but {strategy.world_size} are loading "
            f"it: each process reads its own shards. Load it with the same number of processes "
            f"(devices={meta['world_size']}), or save with FSDPStrategy(state_dict_type='full') for a checkpoint "
            f"any number of processes reads. Received: saved world_size={meta['world_size']}, "
            f"world_size={strategy.world_size}"
        )
    file = path / rank_file(strategy.rank, strategy.world_size)
    if not file.is_file():
        raise CheckpointError(
            f"'{path}' has no '{file.name}' (rank {strategy.rank}'s shards): the checkpoint is incomplete. Copy the "
            f"whole directory again, or use another checkpoint. Received: path='{path}'"
        )
    checkpoint = checkpoint_io.load_checkpoint(file)
    checkpoint.pop(checkpoint_io.VERSION_KEY, None)
    return checkpoint, True


def read_meta(path: Path) -> dict[str, Any]:
    """``path/meta.json`` of a sharded checkpoint, checked: a CheckpointError says what is wrong with it."""
    file = path / META
    try:
        meta = json.loads(file.read_text())
    except FileNotFoundError:
        raise CheckpointError(
            f"'{path}' is a directory without '{META}': not a flash checkpoint. Pass a checkpoint file, or the "
            f"directory fabric.save wrote under FSDPStrategy(state_dict_type='sharded'). Received: path='{path}'"
        ) from None
    except (OSError, ValueError) as err:
        raise CheckpointError(f"'{file}' is unreadable ({type(err).__name__}): the checkpoint is damaged. Use "
                              f"another checkpoint. Received: path='{path}'") from None
    size = meta.get("world_size") if isinstance(meta, dict) else None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT or type(size) is not int or size < 1:
        raise CheckpointError(f"'{file}' does not describe a flash sharded checkpoint (it needs format '{FORMAT}' "
                              f"and a world_size). Use another checkpoint. Received: {META} {str(meta)[:200]}")
    version = meta.get("version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(
            f"'{path}' has sharded format version {version!r}, but this flash reads versions up to "
            f"{FORMAT_VERSION}. Upgrade flash: pip install -U {DISTRIBUTION}. Received: version={version!r}"
        )
    return meta
