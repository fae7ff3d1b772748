"""What a search tries: learning rate, batch size, backbone, finetuning strategy and epochs.

A :class:`SearchSpace` samples one trial's parameters from an Optuna trial and turns the best ones into the
``model:`` / ``data:`` / ``trainer:`` / ``finetune:`` sections that ``flash train --config`` reads. Strategies
with an argument are written ``"freeze_unfreeze:1"`` (Optuna's choices must be plain values).

Example:
    >>> space = SearchSpace(learning_rate=(1e-4, 1e-2), batch_sizes=(8, 16), epochs=(2, 4),
    ...                     strategies=("freeze", "freeze_unfreeze:1"))
    >>> space.to_config({"learning_rate": 0.001, "batch_size": 16, "epochs": 3, "strategy": "freeze_unfreeze:1"})
    {'model': {'learning_rate': 0.001}, 'data': {'batch_size': 16}, 'trainer': {'max_epochs': 3}, \
'finetune': {'strategy': ['freeze_unfreeze', 1]}}
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from flash.errors import ConfigurationError


def parse_strategy(text: str) -> str | tuple:
    """``"freeze"`` -> ``"freeze"``; ``"freeze_unfreeze:2"`` -> ``("freeze_unfreeze", 2)``."""
    name, _, arg = str(text).partition(":")
    if not arg:
        return name
    if name == "unfreeze_milestones":  # "unfreeze_milestones:1,3,2": epochs 1 and 3, 2 layers
        first, second, layers = (int(v) for v in arg.split(","))
        return name, ((first, second), layers)
    return name, int(arg)


def _strategy_problem(text: str) -> str | None:
    from flash.core.finetuning import STRATEGIES

    try:
        name = parse_strategy(text)
    except ValueError:
        return (f"cannot read the strategy {text!r}: write NAME, NAME:EPOCH (e.g. freeze_unfreeze:1) or "
                "unfreeze_milestones:FIRST,SECOND,LAYERS")
    name = name if isinstance(name, str) else name[0]
    if name not in STRATEGIES:
        return f"unknown strategy {name!r}; strategies: {', '.join(STRATEGIES)}"
    return None


def field_problem(name: str, value: Any) -> str | None:
    """What is wrong with ``value`` as the :class:`SearchSpace` field ``name`` (None: nothing), in words that
    fit any way it was given (``SearchSpace(epochs=...)`` or ``flash tune --epochs ...``).

    Example:
        >>> field_problem("learning_rate", (1.0, 0.1))
        'a range needs 0 < LOW <= HIGH (LOW is 1.0, HIGH 0.1)'
    """
    if value is None:
        return None
    if name in ("learning_rate", "epochs"):
        low, high = value
        floor, sign = (0, "<") if name == "learning_rate" else (1, "<=")
        if not (low > floor if sign == "<" else low >= floor) or not low <= high:
            return f"a range needs {floor} {sign} LOW <= HIGH (LOW is {low}, HIGH {high})"
        return None
    if not value:
        return "give at least one value"
    if name == "batch_sizes" and any(size < 1 for size in value):
        return f"batch sizes are >= 1 (got {min(value)})"
    if name == "strategies":
        return next((problem for text in value if (problem := _strategy_problem(text))), None)
    return None


def _plain(value: Any) -> Any:
    """Tuples as lists, so the YAML is plain and safe to load."""
    return [_plain(v) for v in value] if isinstance(value, (tuple, list)) else value


@dataclass
class SearchSpace:
    """The ranges a search samples; a range of one value, or None, keeps that setting fixed.

    Args:
        learning_rate: ``(low, high)``, sampled on a log scale.
        batch_sizes: the batch sizes to choose from.
        backbones: the backbones to choose from (None: the task's default or the one configured).
        strategies: finetuning strategies (``"no_freeze"``, ``"freeze"``, ``"freeze_unfreeze:1"``, ...).
        epochs: ``(low, high)`` number of epochs, inclusive.
    """

    learning_rate: tuple[float, float] | None = (1e-5, 1e-1)
    batch_sizes: Sequence[int] | None = (8, 16, 32)
    backbones: Sequence[str] | None = None
    strategies: Sequence[str] | None = None
    epochs: tuple[int, int] | None = (1, 5)

    def __post_init__(self) -> None:
        for name in ("learning_rate", "batch_sizes", "backbones", "strategies", "epochs"):
            value = getattr(self, name)
            problem = field_problem(name, value)
            if problem:
                raise ConfigurationError(f"{name}: {problem}. Received: {name}={value!r}")

    def sample(self, trial: Any) -> dict[str, Any]:
        """One trial's parameters, drawn with Optuna's ``trial.suggest_*``."""
        params: dict[str, Any] = {}
        if self.learning_rate is not None:
            low, high = self.learning_rate
            params["learning_rate"] = trial.suggest_float("learning_rate", low, high, log=True) if low < high else low
        if self.batch_sizes is not None:
            params["batch_size"] = trial.suggest_categorical("batch_size", list(self.batch_sizes))
        if self.backbones is not None:
            params["backbone"] = trial.suggest_categorical("backbone", list(self.backbones))
        if self.strategies is not None:
            params["strategy"] = trial.suggest_categorical("strategy", list(self.strategies))
        if self.epochs is not None:
            params["epochs"] = trial.suggest_int("epochs", *self.epochs)
        return params

    def first(self) -> dict[str, Any]:
        """The first value of every range (what a probe model is built with before the search starts)."""
        class _First:
            def suggest_float(self, name, low, high, log=False):
                return low

            def suggest_int(self, name, low, high):
                return low

            def suggest_categorical(self, name, choices):
                return choices[0]

        return self.sample(_First())

    @staticmethod
    def to_config(params: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The sections of a ``flash train --config`` YAML that set these parameters."""
        config: dict[str, dict[str, Any]] = {"model": {}, "data": {}, "trainer": {}, "finetune": {}}
        for key, section, name in (("learning_rate", "model", "learning_rate"), ("backbone", "model", "backbone"),
                                   ("batch_size", "data", "batch_size"), ("epochs", "trainer", "max_epochs")):
            if key in params:
                config[section][name] = params[key]
        if "strategy" in params:
            config["finetune"]["strategy"] = _plain(parse_strategy(params["strategy"]))
        return config
