"""`python -m engine <command>`: each command lives in its own `engine/cli_<command>.py` module
exposing `add_parser(subparsers)` and `run(args) -> int`. Only CLIs choose exit codes."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

COMMANDS = ("stylize", "analogy", "serve", "models", "doctor", "params")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine",
                                     description="Neural style transfer engine.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    for name in COMMANDS:
        try:
            modules[name] = importlib.import_module(f"engine.cli_{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"engine.cli_{name}":
                raise
            continue
        modules[name].add_parser(sub)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * min(args.verbose, 2),
                        format="%(levelname)s %(name)s: %(message)s")
    if not args.command:
        parser.print_help()
        return 2
    return modules[args.command].run(args)


if __name__ == "__main__":
    sys.exit(main())
