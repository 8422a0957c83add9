"""Choosing a backend and its options by name: keyword arguments, a TOML file, or the environment.

Precedence, highest first: keyword arguments, the TOML file (``config_file=``, else the path in
``SOLVERLAYERS_CONFIG``, else ``./solverlayers.toml``), then ``SOLVERLAYERS_BACKEND``. A config
file holds names and scalar options only; it can never cause an import or a call::

    [solverlayers]
    backend = "cvc5"              # the one line to change
    gradient = "b_core"           # used by solver layers

    [solverlayers.options.pysat]  # options per backend, so switching keeps them valid
    engine = "glucose4"
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["SolverConfig", "ConfigError", "resolve", "load_file", "ENV_BACKEND", "ENV_CONFIG"]

ENV_BACKEND = "SOLVERLAYERS_BACKEND"
ENV_CONFIG = "SOLVERLAYERS_CONFIG"
DEFAULT_FILE = "solverlayers.toml"
SECTION = "solverlayers"
_KEYS = {"backend", "gradient", "options"}


class ConfigError(ValueError):
    """A configuration file or value is malformed."""


@dataclass(frozen=True)
class SolverConfig:
    """A resolved choice: backend name, its options, and where the choice came from."""

    backend: str
    options: Mapping[str, Any] = field(default_factory=dict)
    gradient: str | None = None
    source: str = "default"


def _scalar(value: Any, where: str) -> Any:
    if isinstance(value, (str, int, float, bool)):
        return value
    raise ConfigError(f"{where} must be a string, number or boolean, got {type(value).__name__}")


def load_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``[solverlayers]`` table of a TOML file, validated (scalars only)."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"config file {str(p)!r} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid TOML: {exc}") from None
    table = data.get(SECTION, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{p}: [{SECTION}] must be a table")
    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise ConfigError(f"{p}: unknown key(s) {', '.join(unknown)} in [{SECTION}]; valid: {', '.join(sorted(_KEYS))}")
    out: dict[str, Any] = {}
    for key in ("backend", "gradient"):
        if key in table:
            if not isinstance(table[key], str):
                raise ConfigError(f"{p}: {SECTION}.{key} must be a name (a string)")
            out[key] = table[key]
    options = table.get("options", {})
    if not isinstance(options, dict) or not all(isinstance(v, dict) for v in options.values()):
        raise ConfigError(f"{p}: [{SECTION}.options.<backend>] tables hold each backend's options")
    out["options"] = {
        b: {k: _scalar(v, f"{p}: {SECTION}.options.{b}.{k}") for k, v in opts.items()}
        for b, opts in options.items()
    }
    return out


def _find_file(config_file: str | os.PathLike[str] | None) -> Path | None:
    if config_file is not None:
        return Path(config_file)
    if os.environ.get(ENV_CONFIG):
        return Path(os.environ[ENV_CONFIG])
    local = Path.cwd() / DEFAULT_FILE
    return local if local.is_file() else None


def resolve(
    backend: str | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    config_file: str | os.PathLike[str] | None = None,
    gradient: str | None = None,
    default_backend: str = "z3",
    default_gradient: str | None = None,
) -> SolverConfig:
    """Resolve the backend, its options and the gradient strategy by precedence."""
    path = _find_file(config_file)
    table = load_file(path) if path is not None else {"options": {}}
    if backend is not None:
        name, source = backend, "argument"
    elif "backend" in table:
        name, source = table["backend"], f"config file {path}"
    elif os.environ.get(ENV_BACKEND):
        name, source = os.environ[ENV_BACKEND].strip(), f"environment variable {ENV_BACKEND}"
    else:
        name, source = default_backend, "default"
    merged = {**table["options"].get(name, {}), **(options or {})}
    chosen_gradient = gradient or table.get("gradient") or default_gradient
    return SolverConfig(backend=name, options=merged, gradient=chosen_gradient, source=source)
