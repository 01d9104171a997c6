"""`python -m engine <command>`: each command lives in its own module of this package
(`engine/cli/<command>.py`) exposing `add_parser(subparsers)` and `run(args) -> int`. Only CLIs
choose exit codes, print, and draw progress bars; everything else is the engine library."""

from __future__ import annotations

import argparse
import importlib
import logging

COMMANDS = ("stylize", "upscale", "serve", "models", "doctor", "params")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine",
                                     description="Neural style transfer engine.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name in COMMANDS:
        modules[name] = importlib.import_module(f"engine.cli.{name}")
        modules[name].add_parser(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.command:
        parser.print_help()
        return 2
    return modules[args.command].run(args)

