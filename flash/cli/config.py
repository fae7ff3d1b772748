"""``--model.backbone resnet18``-style flags and YAML configs, checked against the real signatures."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from flash.errors import ConfigurationError, DataError, close_matches

SECTIONS = ("model", "data", "trainer", "finetune")


def parse_flags(extra: list[str]) -> dict[str, dict[str, Any]]:
    """``["--trainer.max_epochs", "3", "--model.pretrained=false"]`` -> ``{"trainer": {"max_epochs": 3}, ...}``."""
    config: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    i = 0
    while i < len(extra):
        flag = extra[i]
        if not flag.startswith("--") or "." not in flag:
            raise ConfigurationError(f"Unexpected argument {flag!r}. Use --model.NAME VALUE, --data.NAME VALUE, "
                                     "--trainer.NAME VALUE or --finetune.strategy VALUE.")
        key, has_value, value = flag[2:].partition("=")
        if not has_value:
            if i + 1 >= len(extra):
                raise ConfigurationError(f"{flag} needs a value.")
            value, i = extra[i + 1], i + 1
        section, _, name = key.partition(".")
        if section not in SECTIONS:
            hint = close_matches(section, SECTIONS, n=1)
            did_you_mean = f"; did you mean --{hint[0]}.{name}?" if hint else ""
            raise ConfigurationError(f"Unknown section in {flag!r}{did_you_mean}. "
                                     f"Sections: {', '.join(SECTIONS)}.")
        config[section][name] = yaml.safe_load(value) if value != "" else ""
        i += 1
    return config


def load_config(path: str | None) -> dict[str, dict[str, Any]]:
    config: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    if not path:
        return config
    file = Path(path)
    if not file.is_file():
        what = "is a folder, not a YAML file" if file.is_dir() else "does not exist"
        raise DataError(f"--config file '{path}' {what}. Received: --config {path}")
    try:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise DataError(f"--config '{path}' is not readable YAML: {err}. Received: --config {path}") from None
    example = "e.g. 'trainer:\n  max_epochs: 3'"
    if not isinstance(loaded, dict):
        raise DataError(f"--config '{path}' must hold sections ({', '.join(SECTIONS)}), {example}; it holds a "
                        f"{type(loaded).__name__}. Received: --config {path}")
    unknown = set(loaded) - set(SECTIONS)
    if unknown:
        raise DataError(f"Unknown sections {sorted(unknown)} in '{path}'. Sections: {', '.join(SECTIONS)}. "
                        f"Received: --config {path}")
    for section, values in loaded.items():
        if values is not None and not isinstance(values, dict):
            raise DataError(f"Section {section!r} of '{path}' must map argument names to values, {example}. "
                            f"Received: {section}={values!r}")
        config[section].update(values or {})
    return config


def merge(*configs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {s: {} for s in SECTIONS}
    for config in configs:
        for section, values in config.items():
            out[section].update(values)
    return out


def check_kwargs(fn: Callable, kwargs: dict[str, Any], *, flag: str) -> None:
    """Raise for keys ``fn`` does not accept, with close matches and the valid names."""
    params = inspect.signature(fn).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()) and flag != "trainer":
        accepted = None
    else:
        accepted = [n for n, p in params.items() if n != "self" and p.kind is not inspect.Parameter.VAR_POSITIONAL]
    for key in kwargs:
        if accepted is not None and key not in accepted:
            hint = close_matches(key, accepted, n=1)
            did_you_mean = f" Did you mean --{flag}.{hint[0]}?" if hint else ""
            owner = getattr(fn, "__qualname__", fn)
            raise ConfigurationError(f"--{flag}.{key} is not an argument of {owner}.{did_you_mean} "
                                     f"Valid: {', '.join(accepted)}.")
