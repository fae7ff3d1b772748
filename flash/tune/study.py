"""Search learning rate, batch size, backbone, finetuning strategy and epochs with Optuna.

Each trial trains a fresh model; a callback reports the validation metric to Optuna after every epoch, and
the pruner stops trials that fall behind. The study lives in ``<run_dir>/study.db`` (SQLite), so running the
same search again continues it; several processes (``flash tune ... --jobs 4``) or machines (one
``storage=`` URL, e.g. PostgreSQL) share it. A time budget stops *starting* trials once spent.

Example:
    >>> from flash.tune import SearchSpace, search  # doctest: +SKIP
    >>> datamodule = MyTaskData.from_folders(train_folder="data/train", val_split=0.2)  # doctest: +SKIP
    >>> space = SearchSpace(backbones=["resnet18", "resnet34"])  # doctest: +SKIP
    >>> result = search(MyTask, datamodule=datamodule, model_kwargs={"labels": datamodule.labels},
    ...                 space=space, trials=20, timeout="30m")  # doctest: +SKIP
    >>> result.best_params, result.best_config  # doctest: +SKIP
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flash.engine.callbacks import Callback
from flash.engine.settings import parse_max_time
from flash.errors import ConfigurationError, NonFiniteLossError, require
from flash.tune.report import plot_search, trials_table, write_best_config
from flash.tune.space import SearchSpace, parse_strategy

_DURATION = re.compile(r"^(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?$")


def parse_duration(value: Any) -> float | None:
    """``"30m"``, ``"1h30m"``, ``"90s"``, ``"2h"``, seconds, or ``"DD:HH:MM:SS"`` -> seconds (None: no limit).

    Example:
        >>> parse_duration("1h30m"), parse_duration("45s"), parse_duration(120)
        (5400.0, 45.0, 120.0)
    """
    if value is None or isinstance(value, (int, float)) and not isinstance(value, bool):
        return parse_max_time(value)
    text = str(value).strip().lower()
    match = _DURATION.match(text)
    if text and match and any(match.groupdict().values()):
        hours, minutes, seconds = (float(match[k] or 0) for k in ("h", "m", "s"))
        return hours * 3600 + minutes * 60 + seconds
    try:
        return parse_max_time(float(text) if text.replace(".", "", 1).isdigit() else text)
    except ConfigurationError:
        raise ConfigurationError(f"A time budget is like '30m', '1h30m', '90s' or a number of seconds. "
                                 f"Received: time={value!r}") from None


def _prune(trial: Any, reason: str) -> None:
    """Stop ``trial`` as pruned, saying why in the table and the log."""
    import optuna

    trial.set_user_attr("reason", reason)
    raise optuna.TrialPruned(reason)


class PruneTrial(Callback):
    """Report ``monitor`` to an Optuna trial after each validation; stop the run when the pruner says so."""

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial, self.monitor = trial, monitor

    def on_validation_end(self, trainer, module) -> None:
        if trainer.sanity_checking:
            return
        if self.monitor not in trainer.callback_metrics:
            raise ConfigurationError(f"The search optimises {self.monitor!r}, which the model does not log. Logged: "
                                     f"{sorted(trainer.callback_metrics)}. Pass metric=... (--metric).")
        value = float(trainer.callback_metrics[self.monitor])
        self.trial.report(value, step=trainer.current_epoch)
        self.trial.set_user_attr("epochs_run", trainer.current_epoch + 1)
        if self.trial.should_prune():
            _prune(self.trial, f"{self.monitor}={value:.4g} after epoch {trainer.current_epoch + 1}")


def default_metric(model: Any) -> tuple[str, str]:
    """``(metric, direction)`` a task is judged by: its first validation metric, else mAP, else the loss."""
    metrics = getattr(model, "val_metrics", None)
    if metrics is not None and len(metrics):
        name, metric = next(iter(metrics.items()))
        return f"val_{name}", "maximize" if getattr(metric, "higher_is_better", False) else "minimize"
    if any(type(m).__name__ == "MeanAveragePrecision" for m in model.modules()):
        return "val_map", "maximize"
    return "val_loss", "minimize"


@dataclass
class SearchResult:
    """The study, its best parameters and value, and the files written (``best.yaml``, ``search.png``)."""

    study: Any
    metric: str
    best_params: dict[str, Any] | None
    best_value: float | None
    best_config: Path | None
    plot: Path | None
    table: str


def _storage(storage: str | None, run_dir: Path) -> Any:
    import optuna

    url = storage or f"sqlite:///{(run_dir / 'study.db').resolve()}"
    engine = {"connect_args": {"timeout": 120}} if url.startswith("sqlite") else {}
    # heartbeats let a resumed or parallel search mark trials of a killed process as failed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(url, heartbeat_interval=30, grace_period=120, engine_kwargs=engine)


def _builder(model: type | Callable[[dict], Any], model_kwargs: dict[str, Any]) -> Callable[[dict], Any]:
    if not isinstance(model, type):
        return model
    names = {"learning_rate": "learning_rate", "backbone": "backbone"}
    return lambda params: model(**{**model_kwargs, **{names[k]: v for k, v in params.items() if k in names}})


def _train_trial(trial: Any, params: dict[str, Any], *, build: Callable, datamodule: Any, metric: str,
                 trainer_kwargs: dict[str, Any], strategy: Any, run_dir: Path) -> float:
    """Train one trial's model with ``params``; the metric's final value (raises TrialPruned when pruned)."""
    from flash.engine.trainer import Trainer
    from flash.tune.batch_size import free_memory, is_out_of_memory

    if "batch_size" in params:
        datamodule.batch_size = params["batch_size"]
    model = build(params)
    kwargs = {"enable_checkpointing": False, "enable_progress_bar": False,
              "default_root_dir": str(run_dir / f"trial_{trial.number}"), **trainer_kwargs}
    kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), PruneTrial(trial, metric)]
    if "epochs" in params:
        kwargs["max_epochs"] = params["epochs"]
    trainer, out_of_memory = Trainer(**kwargs), False
    if "strategy" in params:
        strategy = parse_strategy(params["strategy"])
    try:
        if hasattr(model, "configure_finetune_callback"):
            trainer.finetune(model, datamodule=datamodule, strategy=strategy)
        else:
            trainer.fit(model, datamodule=datamodule)
    except NonFiniteLossError as err:  # a learning rate too high for this model: a bad trial, not a broken search
        _prune(trial, f"non-finite loss: {str(err).split('. ')[0]}")
    except RuntimeError as err:
        if not is_out_of_memory(err):
            raise
        out_of_memory = True
    if out_of_memory:  # freed once the error, and the frames it holds, are gone
        del model, trainer
        free_memory()
        _prune(trial, f"out of memory at batch size {datamodule.batch_size}")
    if metric not in trainer.callback_metrics:
        raise ConfigurationError(f"The search optimises {metric!r}, which the model does not log. Logged: "
                                 f"{sorted(trainer.callback_metrics)}. Pass metric=... (--metric).")
    return float(trainer.callback_metrics[metric])


def _report(trial: Any, metric: str) -> None:
    if trial.state.name == "COMPLETE":
        outcome = f"{metric}={trial.value:.4g}"
    else:
        outcome = f"{trial.state.name.lower()} ({trial.user_attrs.get('reason', 'no value')})"
    print(f"Trial {trial.number}: {outcome}  {trial.params}", flush=True)


def _finished(study: Any) -> int:
    import optuna

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=states))


def _direction(metric: str, guessed: tuple[str, str] | None) -> str:
    if guessed is not None and guessed[0] == metric:
        return guessed[1]
    lower = any(word in metric for word in ("loss", "error", "err", "wer", "cer", "mse", "mae"))
    return "minimize" if lower else "maximize"


def _open_study(storage: Any, *, name: str, metric: str | None, direction: str | None, probe: Callable[[], Any],
                sampler: Any, pruner: Any) -> Any:
    """Load the study ``name`` (a resumed search) or create it with its metric and direction."""
    import optuna

    if name in optuna.study.get_all_study_names(storage):
        study = optuna.load_study(study_name=name, storage=storage, sampler=sampler, pruner=pruner)
        stored = study.user_attrs.get("metric")
        if metric is not None and stored is not None and metric != stored:
            raise ConfigurationError(f"The study {name!r} in this run folder optimises {stored!r}; use a new run "
                                     f"folder or study name to optimise another metric. Received: metric={metric!r}")
        if stored is not None:
            return study
    guessed = default_metric(probe()) if metric is None or direction is None else None
    metric = metric or guessed[0]  # type: ignore[index]  # guessed is set whenever metric is None
    direction = direction or _direction(metric, guessed)
    if direction not in ("minimize", "maximize"):
        raise ConfigurationError(f"direction must be 'minimize' or 'maximize'. Received: direction={direction!r}")
    study = optuna.create_study(study_name=name, storage=storage, direction=direction,  # type: ignore[arg-type]
                                sampler=sampler,
                                pruner=pruner, load_if_exists=True)
    study.set_user_attr("metric", metric)
    return study


def _optimize(study: Any, *, space: SearchSpace, build: Callable, datamodule: Any, trials: int, timeout: Any,
              metric: str, **train_kwargs: Any) -> None:
    """Run trials until the study holds ``trials`` finished ones or ``timeout`` is spent; restore the batch size."""
    import optuna

    remaining, original = trials - _finished(study), datamodule.batch_size
    if remaining <= 0:
        return

    def objective(trial: Any) -> float:
        params = space.sample(trial)
        trial.set_user_attr("params", params)
        return _train_trial(trial, params, build=build, datamodule=datamodule, metric=metric, **train_kwargs)

    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    try:
        study.optimize(objective, n_trials=remaining, timeout=parse_duration(timeout),
                       callbacks=[optuna.study.MaxTrialsCallback(trials, states=states),
                                  lambda _study, trial: _report(trial, metric)])
    finally:
        datamodule.batch_size = original


def search(model: type | Callable[[dict], Any], *, datamodule: Any, space: SearchSpace | None = None,
           trials: int = 20, timeout: Any = None, run_dir: str | os.PathLike = "flash_tune",
           model_kwargs: dict[str, Any] | None = None, trainer_kwargs: dict[str, Any] | None = None,
           strategy: Any = "no_freeze", metric: str | None = None, direction: str | None = None,
           storage: str | None = None, study_name: str = "flash", pruner: Any = None, seed: int | None = None,
           base_config: dict[str, dict[str, Any]] | None = None, command: str | None = None) -> SearchResult:
    """Run (or continue) a search until the study has ``trials`` finished trials or ``timeout`` is spent.

    Args:
        model: a Task class (built with ``model_kwargs`` plus the sampled ``learning_rate``/``backbone``), or a
            function ``params -> model``.
        datamodule: the data; its ``batch_size`` is set per trial (and restored afterwards).
        trials: finished (completed or pruned) trials the study should hold; a resumed search runs the rest.
        timeout: ``"30m"``, ``"2h"``, seconds: no trial starts after it (a running one finishes).
        trainer_kwargs: fixed ``flash.Trainer`` arguments (the sampled epochs set ``max_epochs``).
        strategy: the finetuning strategy when the space does not search strategies.
        metric, direction: what to optimise (default: the task's first validation metric, e.g. ``val_accuracy``).
        storage: an Optuna storage URL shared by several machines (default: ``sqlite:///<run_dir>/study.db``).
        pruner: an Optuna pruner (default: ``MedianPruner(n_startup_trials=3, n_warmup_steps=1)``).
        base_config: the ``model``/``data``/``trainer``/``finetune`` sections ``best.yaml`` builds on.
        command: the ``flash train`` line for ``best.yaml``'s comment, ``{config}`` where its path goes.
    """
    optuna = require("optuna", "tune", purpose="the hyper-parameter search")
    space = space or SearchSpace()
    if not isinstance(trials, int) or trials < 1:
        raise ConfigurationError(f"trials must be an int >= 1. Received: trials={trials!r}")
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    build = _builder(model, dict(model_kwargs or {}))
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial, printed by _report
    try:
        study = _open_study(_storage(storage, run_dir), name=study_name, metric=metric, direction=direction,
                            probe=lambda: build(space.first()), sampler=optuna.samplers.TPESampler(seed=seed),
                            pruner=pruner or optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
        metric = study.user_attrs["metric"]
        _optimize(study, space=space, build=build, datamodule=datamodule, trials=trials, timeout=timeout,
                  metric=metric, trainer_kwargs=dict(trainer_kwargs or {}), strategy=strategy, run_dir=run_dir)
    finally:
        optuna.logging.set_verbosity(verbosity)
    return summarise(study, metric=metric, run_dir=run_dir, space=space, base_config=base_config, command=command)


def summarise(study: Any, *, metric: str, run_dir: Path, space: SearchSpace,
              base_config: dict[str, dict[str, Any]] | None = None, command: str | None = None) -> SearchResult:
    """The table, ``best.yaml`` and ``search.png`` of the study as it stands (re-read from its storage)."""
    from flash.errors import MissingDependencyError

    try:
        best = study.best_trial
    except ValueError:  # no trial completed yet
        best = None
    config_path = plot_path = None
    if best is not None:
        params = best.user_attrs.get("params", best.params)
        sections = space.to_config(params)
        config = {s: {**(base_config or {}).get(s, {}), **sections.get(s, {})} for s in ("model", "data", "trainer",
                                                                                         "finetune")}
        comment = (f"The best of {_finished(study)} trials: {metric}={best.value:.4g} (trial {best.number}).\n"
                   + (f"Train with it: {command.format(config=run_dir / 'best.yaml')}" if command else ""))
        config_path = write_best_config(run_dir / "best.yaml", config, comment=comment)
    try:
        plot_search(study, metric, path=run_dir / "search.png")
        plot_path = run_dir / "search.png"
    except MissingDependencyError as err:
        warnings.warn(f"The search plot was not drawn: {err}", stacklevel=3)
    return SearchResult(study=study, metric=metric, best_params=dict(best.params) if best else None,
                        best_value=best.value if best else None, best_config=config_path, plot=plot_path,
                        table=trials_table(study, metric))
