"""Adam/AdamW by name run torch's fused kernels where the device has them: same updates, user choice kept."""

import pytest
import torch

from flash.core.optimizers import build_optimizer, fused_kwargs


def _params(seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    return list(model.parameters())


@pytest.mark.parametrize("name", ["adam", "AdamW"])
def test_adam_by_name_is_fused_on_cpu(name):
    optimizer = build_optimizer(name, _params(), learning_rate=1e-3)
    assert optimizer.param_groups[0]["fused"] is True


def test_fused_updates_equal_the_single_tensor_loop():
    fused, single = _params(), _params()
    a = build_optimizer("adamw", fused, learning_rate=1e-2)
    b = torch.optim.AdamW(single, lr=1e-2, foreach=False)
    for step in range(3):
        for params in (fused, single):
            for i, p in enumerate(params):
                p.grad = torch.full_like(p, 0.1 * (i + 1 + step))
        a.step()
        b.step()
    for x, y in zip(fused, single):
        torch.testing.assert_close(x, y, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kwargs", [{"foreach": False}, {"fused": False}, {"foreach": True}])
def test_the_users_choice_is_kept(kwargs):
    optimizer = build_optimizer(("adam", kwargs), _params(), learning_rate=1e-3)
    group = optimizer.param_groups[0]
    assert not group["fused"] and all(group[k] == v for k, v in kwargs.items())


def test_param_groups_and_generators():
    first, second = _params()[:2], _params()[2:]
    groups = [{"params": iter(first)}, {"params": (p for p in second), "lr": 1e-4}]
    optimizer = build_optimizer("adam", groups, learning_rate=1e-3)
    assert [len(g["params"]) for g in optimizer.param_groups] == [2, 2]
    assert all(g["fused"] for g in optimizer.param_groups)
    assert build_optimizer("adam", (p for p in _params()), learning_rate=1e-3).param_groups[0]["fused"]


def test_other_optimizers_and_unsupported_parameters_keep_torchs_choice():
    assert not build_optimizer("sgd", _params(), learning_rate=1e-3).param_groups[0].get("fused")
    assert fused_kwargs([]) == {}
    assert fused_kwargs([torch.nn.Parameter(torch.zeros(2)), torch.nn.Parameter(torch.zeros(2, device="meta"))]) == {}
    assert fused_kwargs([torch.zeros(2, dtype=torch.int64)]) == {}
