"""``Trainer(compile=...)``: the forward runs through torch.compile; the module, its weights and checkpoints stay."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

import flash
from flash.errors import ConfigurationError

from .helpers import TinyRegressor, dataset


def _fit(tmp_path, **trainer_kwargs) -> TinyRegressor:
    model = TinyRegressor(seed=0)
    trainer = flash.Trainer(max_epochs=2, default_root_dir=tmp_path, enable_progress_bar=False, logger=False,
                            **trainer_kwargs)
    trainer.fit(model, DataLoader(dataset(16), batch_size=4), DataLoader(dataset(8, seed=1), batch_size=4))
    return model


def test_compiled_training_matches_eager_training(tmp_path):
    torch._dynamo.reset()
    eager = _fit(tmp_path / "eager")
    compiled = _fit(tmp_path / "compiled", compile={"backend": "eager"})  # dynamo traces; no C++ compiler needed
    assert compiled._compiled_call_impl is not None and eager._compiled_call_impl is None
    assert list(compiled.state_dict()) == list(eager.state_dict())  # no "_orig_mod." prefixes
    for a, b in zip(compiled.state_dict().values(), eager.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-6)
    [saved] = (tmp_path / "compiled" / "checkpoints").glob("*.ckpt")
    checkpoint = torch.load(saved, weights_only=True)
    assert set(checkpoint["state_dict"]) == set(eager.state_dict())


@pytest.mark.parametrize("value, message", [
    ("yes", "must be True, False, or a dict"),
    ({"modee": "max-autotune"}, r"unknown torch.compile argument\(s\) \['modee'\]"),
])
def test_bad_compile_values_say_what_is_accepted(value, message):
    with pytest.raises(ConfigurationError, match=message):
        flash.Trainer(compile=value)
