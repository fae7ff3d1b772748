import pytest
import torch

import flash
from flash.core.data import DataModule
from flash.core.finetuning import Freeze, FreezeUnfreeze, UnfreezeMilestones, get_finetuning_strategy
from flash.core.optimizers import build_optimizer, build_scheduler
from flash.errors import CheckpointError, ConfigurationError

from .helpers import PointsClassifier, PointsInput, points


def _datamodule(n=80):
    xs, ys = points(n)
    return DataModule(PointsInput("train", xs, ys), predict_input=PointsInput("predict", xs[:6]), val_split=0.25,
                      batch_size=16)


def _trainer(tmp_path, **kwargs):
    return flash.Trainer(default_root_dir=tmp_path, enable_checkpointing=False, accelerator="cpu", **kwargs)


@pytest.mark.slow
def test_fit_logs_metrics_and_learns(tmp_path):
    flash.seed_everything(0)
    dm = _datamodule(200)
    model = PointsClassifier(dm.num_classes, labels=dm.labels)
    trainer = _trainer(tmp_path, max_epochs=15)
    trainer.fit(model, datamodule=dm)
    m = trainer.callback_metrics
    assert {"train_loss", "val_loss", "val_accuracy", "train_accuracy"} <= set(m)
    assert m["val_accuracy"] > 0.85
    assert trainer.test(model, dataloaders=dm.val_dataloader())[0]["test_accuracy"] == pytest.approx(m["val_accuracy"])


def test_predict_outputs_and_checkpoint_round_trip(tmp_path):
    flash.seed_everything(0)
    dm = _datamodule()
    model = PointsClassifier(dm.num_classes, labels=dm.labels, lr_scheduler=("steplr", {"step_size": 1}))
    trainer = _trainer(tmp_path, max_epochs=2)
    trainer.fit(model, datamodule=dm)
    labels = trainer.predict(model, datamodule=dm, output="labels")
    probs = trainer.predict(model, datamodule=dm, output="probabilities")
    classes = trainer.predict(model, datamodule=dm, output="classes")
    assert all(label in ("neg", "pos") for batch in labels for label in batch)
    assert [dm.labels[c] for c in classes[0]] == labels[0]
    assert all(abs(sum(p) - 1) < 1e-5 for p in probs[0])
    trainer.save_checkpoint(tmp_path / "model.pt")
    restored = PointsClassifier.load_from_checkpoint(tmp_path / "model.pt")
    assert restored.hparams["labels"] == ["neg", "pos"]
    xs, _ = points(6)
    assert restored.predict(xs) == model.predict(xs) == labels[0]
    assert restored.predict(xs[0]) == labels[0][0]


def test_load_from_checkpoint_refuses_other_and_non_flash_classes(tmp_path):
    class Other(PointsClassifier):
        pass

    dm = _datamodule()
    model = PointsClassifier(2)
    trainer = _trainer(tmp_path, max_steps=1)
    trainer.fit(model, datamodule=dm)
    trainer.save_checkpoint(tmp_path / "m.pt")
    # a class outside the flash package is never imported from a checkpoint's say-so
    with pytest.raises(CheckpointError, match="PointsClassifier.*not a flash class"):
        Other.load_from_checkpoint(tmp_path / "m.pt")


def _backbone_params(model):
    return [p.detach().clone() for p in model.backbone.parameters()]


def test_finetune_freeze_keeps_backbone_but_trains_head(tmp_path):
    dm = _datamodule()
    model = PointsClassifier(2)
    before, head_before = _backbone_params(model), model.head.weight.detach().clone()
    _trainer(tmp_path, max_epochs=2).finetune(model, datamodule=dm, strategy="freeze", train_bn=False)
    assert all(torch.equal(a, b) for a, b in zip(before, _backbone_params(model)))
    assert not torch.equal(head_before, model.head.weight)


def test_finetune_freeze_unfreeze_trains_backbone_after_epoch(tmp_path):
    dm = _datamodule()
    model = PointsClassifier(2)
    before = _backbone_params(model)
    trainer = _trainer(tmp_path, max_epochs=1)
    trainer.finetune(model, datamodule=dm, strategy=("freeze_unfreeze", 1))
    first_linear = lambda m: m.backbone[0].weight  # noqa: E731
    assert torch.equal(first_linear(model), before[0])
    model2 = PointsClassifier(2)
    model2.load_state_dict(model.state_dict())
    _trainer(tmp_path, max_epochs=2).finetune(model2, datamodule=dm, strategy=("freeze_unfreeze", 1))
    assert not torch.equal(first_linear(model2), before[0])


def test_strategy_resolution_and_milestones():
    assert isinstance(get_finetuning_strategy("freeze"), Freeze)
    assert isinstance(get_finetuning_strategy(("freeze_unfreeze", 2)), FreezeUnfreeze)
    s = get_finetuning_strategy(("unfreeze_milestones", ((1, 3), 1)))
    assert isinstance(s, UnfreezeMilestones)
    assert [s.trainable_layers(e) for e in range(4)] == [0, 1, 1, -1]
    with pytest.raises(ConfigurationError, match="Unknown finetuning strategy"):
        get_finetuning_strategy("freez")
    model = PointsClassifier(2)
    s.apply(model, 1)  # last backbone block trainable, the others frozen (BatchNorm too: train_bn=False by default)
    flags = [all(p.requires_grad for p in layer.parameters()) for layer in model.backbone if list(layer.parameters())]
    assert flags == [False, False, True]
    get_finetuning_strategy(("unfreeze_milestones", ((1, 3), 1)), train_bn=True).apply(model, 1)
    flags = [all(p.requires_grad for p in layer.parameters()) for layer in model.backbone if list(layer.parameters())]
    assert flags == [False, True, True]  # train_bn=True: the frozen BatchNorm's affine parameters still train


def test_optimizers_and_schedulers_by_name():
    params = [torch.nn.Parameter(torch.zeros(2))]
    opt = build_optimizer(("sgd", {"momentum": 0.9}), params, learning_rate=0.1)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9 and opt.defaults["lr"] == 0.1
    assert isinstance(build_optimizer("AdamW", params, learning_rate=None), torch.optim.AdamW)
    with pytest.raises(ConfigurationError, match="Did you mean 'adam'"):
        build_optimizer("adamm", params, learning_rate=0.1)
    config = build_scheduler(("linear_schedule_with_warmup", {"num_warmup_steps": 2}), opt, num_training_steps=10)
    assert config["interval"] == "step"
    lrs = []
    for _ in range(4):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        config["scheduler"].step()
    assert lrs[0] < lrs[1] and lrs[2] > lrs[3]
    assert build_scheduler(("steplr", {"step_size": 3}), opt, num_training_steps=10)["scheduler"].step_size == 3


def test_serve_calls_the_implementation_the_package_root_provides(monkeypatch):
    """core sits below flash.serve: Task.serve runs what flash/__init__.py wires as "serve"."""
    import flash.lazy

    assert flash.lazy._PROVIDED["serve"] == "flash.serve:serve"
    monkeypatch.setitem(flash.lazy._PROVIDED, "serve", f"{__name__}:_record_serve")
    _SERVED.clear()
    model = PointsClassifier()
    model.serve(port=8123, max_batch_size=4)
    assert _SERVED == [(model, "127.0.0.1", 8123, {"max_batch_size": 4})]


_SERVED: list = []


def _record_serve(model, *, host, port, **kwargs):
    _SERVED.append((model, host, port, kwargs))
