"""Model configs from files and `KEY=VALUE` overrides, below every command that reads them
(the CLI, the data-parallel entry point). Errors are `ConfigError`s naming the file or key."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

from pairlm.errors import ConfigError


def parse_value(text: str) -> Any:
    """A `--set` value as TOML (numbers, booleans, lists, quoted strings), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """`["lr=1e-3", 'template="short"']` as a config dict."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip()] = parse_value(value.strip())
    return out


def load_config_file(path: str | Path | None) -> dict[str, Any]:
    """The table of config keys in a TOML or JSON file ({} for no file)."""
    if not path:
        return {}
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} not found")
    text = p.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if p.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot parse {p}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{p} must hold a table of config keys")
    return data
