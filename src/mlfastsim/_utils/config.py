"""Config dataclasses from dicts, config files (TOML / JSON) and ``--set key=value`` overrides, for any dataclass."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from mlfastsim._utils.errors import InputError

__all__ = ["apply_overrides", "config_from_dict", "config_to_dict", "load_config_file"]

T = TypeVar("T")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """``value`` (a string from ``--set`` or a parsed TOML/JSON value) converted to type ``tp``."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    text = value.strip() if isinstance(value, str) else None
    if origin in (typing.Union, types.UnionType):
        if type(None) in args and (value is None or (text is not None and text.lower() in ("none", "null"))):
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arg, key)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[0] if errors else f"{key}: cannot be none")
    if origin is Literal:
        for choice in args:
            if value == choice or (text is not None and text == str(choice)):
                return choice
        raise InputError(f"{key}={value!r} is not one of {', '.join(map(str, args))}")
    if origin in (tuple, list):
        if text is not None:
            try:
                value = (
                    json.loads(text) if text.startswith("[") else [v for v in text.split(",") if v.strip()]
                )
            except json.JSONDecodeError:
                raise InputError(f"{key}={text!r} is not a list; write e.g. {key}=1,2,3") from None
        if not isinstance(value, (list, tuple)):
            raise InputError(f"{key}={value!r} is not a list; write e.g. {key}=[1, 2, 3]")
        if not args:
            items = list(value)
        elif origin is list or (len(args) == 2 and args[1] is ...):
            items = [_coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value)]
        elif len(args) != len(value):
            raise InputError(f"{key}={value!r} needs exactly {len(args)} items")
        else:
            items = [_coerce(v, t, f"{key}[{i}]") for i, (v, t) in enumerate(zip(value, args, strict=True))]
        return tuple(items) if origin is tuple else items
    if tp is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return text.lower() in ("true", "yes", "on", "1")
    elif tp is int:
        number: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            number = value
        elif isinstance(value, float) and value.is_integer():
            number = int(value)
        elif text is not None:
            try:
                number = int(text.replace("_", ""))
            except ValueError:
                pass
        if number is not None:
            if number < 0:  # every integer setting is a count, a size or a seed
                raise InputError(f"{key}={number} must be >= 0")
            return number
    elif tp is float:
        real: float | None = None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            real = float(value)
        elif text is not None:
            try:
                real = float(text)
            except ValueError:
                pass
        if real is not None:
            if not math.isfinite(real):
                raise InputError(f"{key}={value!r} is not a finite number")
            return real
    elif tp in (str, Path):
        if text is not None:
            return tp(text)
    elif dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, Mapping):
            return config_from_dict(tp, value, where=key)
        raise InputError(f"{key} is a section, not a value; set its fields with {key}.<field>=...")
    elif tp is Any:
        return value
    raise InputError(f"{key}={value!r} is not a valid {_type_name(tp)}")


def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def config_from_dict(cls: type[T], data: Mapping[str, Any], where: str = "config") -> T:
    """Build dataclass ``cls`` from a (nested) mapping, coercing types; unknown keys raise InputError."""
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: expected a table of settings, got {type(data).__name__}")
    fields = _fields(cls)
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise InputError(f"{where}: unknown key {unknown[0]!r}; known keys: {', '.join(fields)}")
    prefix = "" if where == "config" else f"{where}."
    kwargs = {k: _coerce(v, fields[k], f"{prefix}{k}") for k, v in data.items()}
    return cls(**kwargs)


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """A frozen dataclass (nested ones included) as plain JSON-ready types (tuples become lists)."""
    return json.loads(json.dumps(dataclasses.asdict(cfg), default=str))


def apply_overrides(cfg: T, overrides: Sequence[str]) -> T:
    """``cfg`` with ``["a=1", "block.b=x", ...]`` applied; dotted keys reach nested dataclasses.

    Values are coerced from the field types (int, float, bool, str, Literal choices, ``X | None``
    with ``none``, tuples/lists as ``1,2,3`` or ``[1,2,3]``). Raises a one-line InputError for an
    unknown key, a missing ``=`` or a bad value: integers must be >= 0 (counts, sizes, seeds) and floats
    finite (no NaN or inf, which would silently poison a run) — for config files too.
    """
    for item in overrides:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise InputError(f"--set {item!r}: expected key=value, e.g. --set lr=3e-4")
        cfg = _set_path(cfg, key.split("."), value, key)
    return cfg


def _set_path(cfg: T, parts: list[str], value: str, full: str) -> T:
    if not dataclasses.is_dataclass(cfg) or isinstance(cfg, type):
        raise InputError(f"--set {full}: {'.'.join(parts)} has no sub-keys")
    fields = _fields(type(cfg))
    name = parts[0]
    if name not in fields:
        raise InputError(f"--set {full}: unknown key {name!r}; known keys: {', '.join(fields)}")
    if len(parts) > 1:
        new = _set_path(getattr(cfg, name), parts[1:], value, full)
    else:
        new = _coerce(value, fields[name], full)
    return dataclasses.replace(cfg, **{name: new})


def load_config_file(path: str | Path) -> dict[str, Any]:
    """Read a TOML (``.toml``) or JSON (``.json``) config file into a dict; one-line InputError on failure."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".toml", ".json"):
        raise InputError(f"--config {path}: unsupported file type {suffix or '(none)'!r}; use .toml or .json")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"--config {path}: file not found; check the path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"--config {path}: cannot be read ({exc}); check the file") from None
    try:
        import tomllib
    except ImportError:  # Python 3.10
        raise InputError(f"--config {path}: TOML needs Python >= 3.11; use a .json config") from None
    try:
        data = tomllib.loads(text) if suffix == ".toml" else json.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"--config {path}: invalid TOML ({exc}); fix the file") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"--config {path}: invalid JSON ({exc.msg} at line {exc.lineno}); fix the file"
        ) from None
    if not isinstance(data, dict):
        raise InputError(f"--config {path}: the top level must be a table of settings")
    return data
