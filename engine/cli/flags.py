"""The one "dataclass -> argparse flags" builder, for the contract's params, the server settings
and the training settings alike: flag = field name with dashes (unless renamed), help and range
from the field's metadata, values parsed as text and validated by the one coercer
(`engine.contract.coerce`), so CLI, server and settings files give the same messages."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import typing
from typing import Any

from engine.contract import ParamError, coerce


def _default(f: dataclasses.Field) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def add_flags(parser: argparse.ArgumentParser | Any, cls: type, *, skip: tuple[str, ...] = (),
              flags: dict[str, str] | None = None, metavars: dict[str, str] | None = None,
              required: tuple[str, ...] = ()) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp = hints[f.name]
        meta = f.metadata
        default = _default(f)
        rng = f" [{meta['min']}..{meta['max']}]" if meta.get("min") is not None else ""
        shown = default.value if isinstance(default, enum.Enum) else default
        tail = f" (default: {shown})" if default is not dataclasses.MISSING else ""
        help_text = f"{meta.get('help') or ''}{rng}{tail}".strip()
        flag = (flags or {}).get(f.name, "--" + f.name.replace("_", "-"))
        if tp is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_text)
        elif isinstance(tp, type) and issubclass(tp, enum.Enum):
            parser.add_argument(flag, dest=f.name, default=None,
                                choices=[m.value for m in tp], help=help_text)
        else:
            parser.add_argument(flag, dest=f.name, default=None, help=help_text,
                                required=f.name in required,
                                metavar=(metavars or {}).get(f.name, "VALUE"))


def given_values(cls: type, args: argparse.Namespace) -> dict[str, Any]:
    """The flags the user gave, coerced; ParamError (naming the field) for a bad one."""
    hints = typing.get_type_hints(cls)
    return {f.name: coerce(f, hints[f.name], getattr(args, f.name))
            for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}


def params_from_args(cls: type, args: argparse.Namespace) -> Any:
    """Only flags the user gave override defaults."""
    return cls(**given_values(cls, args))


__all__ = ["ParamError", "add_flags", "given_values", "params_from_args"]
