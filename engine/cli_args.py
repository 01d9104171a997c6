"""Derive argparse flags from the contract dataclasses (flag = field name with dashes)."""

from __future__ import annotations

import argparse
import dataclasses
import enum
import typing
from typing import Any

from engine.contract import ParamError, params_from_dict


def add_param_flags(parser: argparse.ArgumentParser | Any, cls: type,
                    skip: tuple[str, ...] = ()) -> None:
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp = hints[f.name]
        meta = f.metadata
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        rng = ""
        if meta["min"] is not None:
            rng = f" [{meta['min']}..{meta['max']}]"
        shown = default.value if isinstance(default, enum.Enum) else default
        help_text = f"{meta['help']}{rng} (default: {shown})"
        flag = "--" + f.name.replace("_", "-")
        if tp is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=None, help=help_text)
        elif isinstance(tp, type) and issubclass(tp, enum.Enum):
            parser.add_argument(flag, dest=f.name, default=None,
                                choices=[m.value for m in tp], help=help_text)
        else:
            # Parsed as text and validated by the contract, so CLI and server give one message.
            parser.add_argument(flag, dest=f.name, default=None, metavar="VALUE",
                                help=help_text)


def params_from_args(cls: type, args: argparse.Namespace) -> Any:
    """Only flags the user gave override defaults; raises ParamError with a clear message."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
             if getattr(args, f.name, None) is not None}
    return params_from_dict(cls, given)


__all__ = ["ParamError", "add_param_flags", "params_from_args"]
