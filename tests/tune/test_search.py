"""The Optuna search, from the CLI and from Python: trials, pruning, resumption, best.yaml, parallel workers."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml

from flash.cli import main
from flash.errors import ConfigurationError
from flash.tune.space import SearchSpace, parse_strategy
from flash.tune.study import parse_duration, search

from .conftest import digits, seeded

optuna = pytest.importorskip("optuna")

TINY = ["--model.backbone", "test_resnet", "--model.pretrained", "false", "--data.transform_kwargs",
        "{image_size: [16, 16]}", "--trainer.logger", "false"]


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    """`flash tune` on class folders: 2 trials with 2 processes, then the same command continued to 4 trials."""
    from tests.cli.conftest import write_class_folders

    root = tmp_path_factory.mktemp("tune")
    write_class_folders(root / "data", per_class=5, size=16)
    args = ["tune", "image_classification", "--data", str(root / "data"), "--run_dir", str(root / "run"),
            "--epochs", "1:2", "--batch_sizes", "4,8", "--strategies", "no_freeze,freeze", "--seed", "0", *TINY]
    first = main([*args, "--trials", "2", "--jobs", "2"])
    study = optuna.load_study(study_name="image_classification", storage=f"sqlite:///{root / 'run' / 'study.db'}")
    after_first = len(study.trials)
    second = main([*args, "--trials", "4"])
    return root, first, after_first, second


def test_parallel_search_then_resume_writes_a_usable_best_config(searched, capsys):
    root, first, after_first, second = searched
    assert first == 0 and second == 0
    assert after_first >= 2  # the parent and one worker process, one shared SQLite study
    study = optuna.load_study(study_name="image_classification", storage=f"sqlite:///{root / 'run' / 'study.db'}")
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == 4 == len(study.trials)  # the second run continued the study up to 4 trials
    best = yaml.safe_load((root / "run" / "best.yaml").read_text())
    assert best["model"]["backbone"] == "test_resnet" and best["trainer"]["logger"] is False
    assert best["data"]["batch_size"] in (4, 8) and 1 <= best["trainer"]["max_epochs"] <= 2
    assert best["finetune"]["strategy"] in ("no_freeze", "freeze") and best["model"]["learning_rate"] > 0
    assert (root / "run" / "search.png").stat().st_size > 1000
    code = main(["train", "image_classification", "--data", str(root / "data"), "--config",
                 str(root / "run" / "best.yaml"), "--checkpoint", str(root / "best.pt")])
    assert code == 0 and (root / "best.pt").is_file()
    checkpoint = torch.load(root / "best.pt", weights_only=True)
    assert checkpoint["task"]["hyper_parameters"]["learning_rate"] == best["model"]["learning_rate"]


def test_search_prints_a_table_of_trials(searched, capsys, tmp_path):
    root = searched[0]
    code = main(["tune", "image_classification", "--data", str(root / "data"), "--run_dir", str(root / "run"),
                 "--trials", "4", *TINY])  # the study is complete: it only reports
    out = capsys.readouterr().out
    assert code == 0
    lines = out.split("Best:")[0].strip().splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("#")):]
    assert table[0].split()[:3] == ["#", "state", "val_accuracy"] and len(table) == 2 + 4
    assert "Train with it: flash train image_classification --data" in out


def test_a_pruned_trial_stops_after_its_first_epoch(tmp_path):
    """A pruner that prunes every value stops a 3-epoch trial after epoch 1; the search reports no best."""
    from flash.image import ImageClassifier

    seeded()
    datamodule = digits()
    result = search(ImageClassifier, datamodule=datamodule, trials=1, run_dir=tmp_path,
                    model_kwargs={"backbone": "test_resnet", "pretrained": False, "labels": datamodule.labels},
                    space=SearchSpace(batch_sizes=(8,), epochs=(3, 3)), trainer_kwargs={"logger": False},
                    pruner=optuna.pruners.ThresholdPruner(upper=-1.0), metric="val_loss")
    trial = result.study.trials[0]
    assert trial.state == optuna.trial.TrialState.PRUNED
    assert list(trial.intermediate_values) == [0] and trial.user_attrs["epochs_run"] == 1
    assert "after epoch 1" in trial.user_attrs["reason"]
    assert result.best_config is None and result.best_params is None and datamodule.batch_size == 8
    assert "pruned" in result.table


def test_durations_strategies_and_space():
    assert parse_duration("30m") == 1800 and parse_duration("1h30m") == 5400 and parse_duration("90s") == 90
    assert parse_duration(45) == 45 and parse_duration("00:01:00:00") == 3600 and parse_duration(None) is None
    with pytest.raises(ConfigurationError, match="'30m'"):
        parse_duration("half an hour")
    assert parse_strategy("freeze_unfreeze:2") == ("freeze_unfreeze", 2)
    assert parse_strategy("unfreeze_milestones:1,3,2") == ("unfreeze_milestones", ((1, 3), 2))
    config = SearchSpace.to_config({"backbone": "resnet34", "strategy": "freeze_unfreeze:1", "epochs": 4})
    assert config == {"model": {"backbone": "resnet34"}, "data": {}, "trainer": {"max_epochs": 4},
                      "finetune": {"strategy": ["freeze_unfreeze", 1]}}
    with pytest.raises(ConfigurationError, match="epochs"):
        SearchSpace(epochs=(0, 3))
    assert SearchSpace(backbones=("a", "b")).first() == {"learning_rate": 1e-5, "batch_size": 8, "backbone": "a",
                                                          "epochs": 1}


def test_tune_help_imports_neither_torch_nor_optuna(tmp_path):
    result = subprocess.run([sys.executable, "-X", "importtime", "-m", "flash", "tune", "--help"], capture_output=True,
                            text=True, cwd=tmp_path, timeout=300)
    imported = {line.split("|")[-1].strip() for line in result.stderr.splitlines() if "|" in line}
    assert result.returncode == 0 and not {"torch", "optuna"} & imported
    assert "--trials" in result.stdout and "Example" in result.stdout


def test_cli_errors_are_clear(tmp_path, capsys):
    assert main(["tune", "image_classification", "--lr", "fast", "--run_dir", str(tmp_path)]) == 2
    assert "--lr takes LOW:HIGH" in capsys.readouterr().err
    assert main(["train", "image_classification", "--lr", "fast", "--print_config"]) == 2
    assert "--lr takes a number or 'auto'. Received: --lr fast" in capsys.readouterr().err


def test_train_with_auto_lr_and_batch_size(tmp_path, capsys, monkeypatch):
    """`flash train --lr auto --batch_size auto`: the finders run first and the checkpoint records their choice."""
    from tests.cli.conftest import write_class_folders

    monkeypatch.chdir(tmp_path)
    write_class_folders(tmp_path / "data", per_class=5, size=16)
    code = main(["train", "image_classification", "--data", "data", "--lr", "auto", "--batch_size", "auto",
                 "--trainer.max_epochs", "1", "--checkpoint", "model.pt", *TINY])
    out = capsys.readouterr().out
    assert code == 0, out
    # the 8 training images cap it at 8; 90% is 7, and 8 % 7 would leave a last batch of 1 (BatchNorm fails): 6
    assert "Batch size: 6 (the largest that fitted, 8," in out
    assert "Learning rate: " in out and "lr_find.png" in out
    checkpoint = torch.load(Path("model.pt"), weights_only=True)
    assert checkpoint["tuned"]["batch_size"] == 6 and checkpoint["hyper_parameters"]["batch_size"] == 6
    learning_rate = float(out.split("Learning rate: ")[1].split()[0])
    assert checkpoint["task"]["hyper_parameters"]["learning_rate"] == pytest.approx(learning_rate, rel=1e-2)
