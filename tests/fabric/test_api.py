"""The public surface of flash.fabric, pinned: Lightning Fabric's names and argument names."""

from __future__ import annotations

import inspect

import flash
import flash.fabric
from flash.fabric import Fabric

METHODS = {
    "launch": ["function", "args", "kwargs"],
    "setup": ["module", "optimizers", "move_to_device"],
    "setup_module": ["module", "move_to_device"],
    "setup_optimizers": ["optimizers"],
    "setup_dataloaders": ["dataloaders", "use_distributed_sampler", "move_to_device"],
    "backward": ["tensor", "args", "model", "kwargs"],
    "clip_gradients": ["module", "optimizer", "clip_val", "max_norm", "norm_type", "error_if_nonfinite"],
    "autocast": [],
    "to_device": ["obj"],
    "print": ["args", "kwargs"],
    "barrier": ["name"],
    "broadcast": ["obj", "src"],
    "all_gather": ["data", "group", "sync_grads"],
    "all_reduce": ["data", "group", "reduce_op"],
    "no_backward_sync": ["module", "enabled"],
    "rank_zero_first": ["local"],
    "init_module": ["empty_init"],
    "save": ["path", "state", "filter"],
    "load": ["path", "state", "strict"],
    "load_raw": ["path", "obj", "strict"],
    "log": ["name", "value", "step"],
    "log_dict": ["metrics", "step"],
    "call": ["hook_name", "args", "kwargs"],
    "seed_everything": ["seed", "workers"],
}
PROPERTIES = {"accelerator", "device", "device_indices", "global_rank", "is_global_zero", "local_rank", "logger",
              "loggers", "node_rank", "num_nodes", "precision", "strategy", "world_size"}


def _params(function) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


def test_fabric_methods_and_their_arguments_are_pinned():
    public = {name for name in vars(Fabric) if not name.startswith("_")}
    assert public == set(METHODS) | PROPERTIES
    assert {name: _params(getattr(Fabric, name)) for name in METHODS} == METHODS
    assert all(isinstance(vars(Fabric)[name], property) for name in PROPERTIES)


def test_constructor_takes_lightning_fabrics_arguments():
    assert _params(Fabric.__init__) == ["accelerator", "strategy", "devices", "num_nodes", "precision", "plugins",
                                        "callbacks", "loggers"]


def test_package_names_and_the_root_alias():
    assert flash.fabric.__all__ == ["DDPStrategy", "FSDPStrategy", "Fabric", "MixedPrecision", "Precision",
                                    "Strategy", "seed_everything"]
    assert flash.Fabric is Fabric
    assert flash.fabric.seed_everything is flash.seed_everything
