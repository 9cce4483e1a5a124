"""Typed configs from a TOML file: sections [features], [model], [train], [augment], [specaug].

Every section maps onto a frozen dataclass; unknown keys are an error, so a typo in a recipe's
config fails loudly instead of silently training the default.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, TypeVar

from asr.errors import AsrError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

C = TypeVar("C")

__all__ = ["read_toml", "config_from_dict", "config_to_dict"]


def read_toml(path: Path) -> dict[str, dict]:
    """Sections of a TOML config file; AsrError names the file on any problem."""
    try:
        with Path(path).open("rb") as f:
            return tomllib.load(f)
    except OSError as err:
        raise AsrError(f"{path}: cannot read config ({err.strerror})") from err
    except tomllib.TOMLDecodeError as err:
        raise AsrError(f"{path}: invalid TOML ({err})") from err


def config_to_dict(config: Any) -> dict:
    """Plain values a checkpoint stores and loads safely (paths as strings)."""
    return {k: _plain(v) for k, v in dataclasses.asdict(config).items()}


def config_from_dict(cls: type[C], values: dict, strict: bool = False, source: str = "") -> C:
    """Build a frozen config dataclass; lists become the tuples the fields expect.

    strict rejects unknown keys (user configs); otherwise they are ignored, so older code reads
    configs that newer code saved in checkpoints.
    """
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(values) - names
    if strict and unknown:
        raise AsrError(f"{source}: unknown {cls.__name__} keys: {', '.join(sorted(unknown))}")
    paths = {f.name for f in dataclasses.fields(cls) if "Path" in str(f.type)}
    return cls(**{k: _typed(v, k in paths) for k, v in values.items() if k in names})


def _typed(value: Any, is_path: bool) -> Any:
    """A stored value as the field expects it: lists as tuples, path strings as Paths."""
    if isinstance(value, list):
        return tuple(_typed(v, False) for v in value)
    return Path(value) if is_path and isinstance(value, str) else value


def _plain(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return list(map(_plain, value)) if isinstance(value, (list, tuple)) else value
