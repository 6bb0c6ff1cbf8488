"""Config files and the one way a table of config keys becomes a typed dataclass.

Below every command that reads configs (the CLI, the data-parallel entry point, the service):
model configs from files and `KEY=VALUE` overrides, and the typed-table mechanism every
config table goes through, a model's config (`ModelConfig`), the tables of an experiment
file, `[serve]` and a corpus index's config:

- `from_table(cls, data, file=, section=)`: a dict as dataclass `cls`; unknown keys refused
  (`check_keys`, listing the valid ones), required keys asked for, then `cls(**data)`;
- the dataclass's `__post_init__` calls `check_fields(self)`: each value checked against its
  field's annotation (`coerce`: TOML/JSON give ints for floats, lists for tuples) and its
  field's `rule` (metadata: what the value must be, and the check, e.g. ">= 10"), then the
  dataclass checks what involves several keys;
- every error is a `ConfigError` naming the file, the section and the key.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from pairlm.errors import ConfigError

T = TypeVar("T")


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


# ---------------------------------------------------------------------- typed tables
def check_keys(
    data: Mapping[str, Any],
    valid: Iterable[str],
    *,
    what: str | None = None,
    also: Iterable[str] = (),
    file: str | None = None,
    section: str | None = None,
) -> None:
    """The one unknown-key check: every key of `data` is one of `valid` (or of `also`, earlier
    names still read); else a ConfigError naming the unknown keys and listing the valid ones."""
    valid = sorted(valid)
    unknown = sorted(set(data) - set(valid) - set(also))
    if unknown:
        raise ConfigError(
            f"unknown key(s){f' for {what}:' if what else ''} {', '.join(unknown)}; "
            f"valid keys: {', '.join(valid)}",
            file=file,
            section=section,
            key=unknown[0],
        )


def rule(must: str, check: Callable[[Any], bool] | None = None, **metadata: Any) -> dict[str, Any]:
    """Field metadata of a value rule beyond its type: `must` says what the value must be
    ("an integer >= 10"), `check` tests a value of the right type (None is not checked).
    A value of the wrong type or failing `check` is a ConfigError "`key` must be MUST, got V"."""
    return {"must": must, "check": check, **metadata}


def coerce(name: str, value: Any, hint: Any) -> Any:
    """`value` as the type `hint` (an annotation) asks for, or a ConfigError naming `name`:
    ints are read as floats, lists as tuples, a whole float as an int."""
    key = name.strip("`")
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for a in args:
            if a is type(None):
                continue
            try:
                return coerce(name, value, a)
            except ConfigError:
                pass
        raise ConfigError(f"{name}: {value!r} does not match {hint}", key=key)
    if origin is typing.Literal:
        if value not in args:
            raise ConfigError(
                f"{name} must be one of {', '.join(map(repr, args))}, got {value!r}", key=key
            )
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(
                f"{name} must be a list, got {type(value).__name__} {value!r}", key=key
            )
        inner = args[0] if args else Any
        items = [coerce(name, v, inner) for v in value] if inner is not Any else list(value)
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{name} must be a table/dict, got {type(value).__name__}", key=key)
        return value
    return _coerce_scalar(name, key, value, hint)


def _coerce_scalar(name: str, key: str, value: Any, hint: Any) -> Any:
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{name} must be a number, got {value!r}", key=key)
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ConfigError(f"{name} must be an integer, got {value!r}", key=key)
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name} must be true or false, got {value!r}", key=key)
        return value
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name} must be a string, got {value!r}", key=key)
        return value
    return value


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def check_fields(obj: Any) -> None:
    """Check (and coerce, in place) every field of dataclass instance `obj` against its
    annotation and its `rule`; a frozen dataclass too. Errors name the key, and the section
    when the class says which it is (a ClassVar `table`)."""
    table = getattr(type(obj), "table", None)
    hints = _hints(type(obj))
    for f in dataclasses.fields(obj):
        given = getattr(obj, f.name)
        must = f.metadata.get("must")
        try:
            value = coerce(f"`{f.name}`", given, hints[f.name]) if f.name in hints else given
        except ConfigError as e:
            if must is None:
                raise e.at(section=table) from None
            ok = False
        else:
            check = f.metadata.get("check")
            ok = value is None or check is None or bool(check(value))
        if not ok:
            raise ConfigError(
                f"`{f.name}` must be {must}, got {given!r}", section=table, key=f.name
            )
        object.__setattr__(obj, f.name, value)


def from_table(
    cls: type[T],
    data: Any,
    *,
    file: str | None = None,
    section: str | None = None,
    what: str | None = None,
) -> T:
    """Table `data` (a dict of keys) as dataclass `cls`: unknown keys refused (`check_keys`),
    missing required keys asked for, then `cls(**data)`, whose `__post_init__` checks the
    values (`check_fields`). Every ConfigError names `file` and `section`."""
    if not isinstance(data, dict):
        raise ConfigError("must be a table", file=file, section=section)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    names = [f.name for f in fields]
    what = what or (None if section else cls.__name__)  # the section names the table
    check_keys(data, names, what=what, file=file, section=section)
    for f in fields:
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required and f.init and f.name not in data:
            raise ConfigError(f"`{f.name}` is required", file=file, section=section, key=f.name)
    try:
        return cls(**data)
    except ConfigError as e:
        raise e.at(file, section) from None
