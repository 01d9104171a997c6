"""`python -m engine <command>`: each command lives in its own module of this package
(`engine/cli/<command>.py`) exposing `add_parser(subparsers)` and `run(args) -> int`. Only CLIs
choose exit codes, print, and draw progress bars; everything else is the engine library."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS = ("stylize", "analogy", "upscale", "serve", "models", "doctor", "params")


def _named_command(argv: list[str]) -> str | None:
    """The command the user named, when it is the first word after the global flags. Only that
    command's module is then imported: a one-second `stylize --fast` should not pay for the
    server's imports (socket, secrets, ...) nor build six parsers it will not use."""
    for word in argv:
        if word in ("-v", "-vv", "--verbose"):
            continue
        return word if word in COMMANDS else None
    return None


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(prog="python -m engine",
                                     description="Neural style transfer engine.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    named = _named_command(argv)
    modules = {}
    for name in (named,) if named else COMMANDS:
        modules[name] = importlib.import_module(f"engine.cli.{name}")
        modules[name].add_parser(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.command:
        parser.print_help()
        return 2
    return modules[args.command].run(args)
