"""What every image command shares: a parser whose usage errors are one line, the exit codes, and
one mapping from the engine's exceptions to a one-line message (never a traceback)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from engine.cli.output import OutputFailed
from engine.contract import ParamError
from engine.errors import Cancelled, EngineError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (and unknown flags are caught here, not by the
    top-level parser, which would print the whole usage block)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(EXIT_BAD_INPUT)

    def parse_known_args(self, args=None, namespace=None):  # type: ignore[override]
        ns, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error("unrecognized arguments: " + " ".join(extras))
        return ns, extras


def add_command(sub: argparse._SubParsersAction, name: str, **kwargs: Any) -> OneLineParser:
    p = sub.add_parser(name, **kwargs)
    p.__class__ = OneLineParser
    p.prog = f"python -m engine {name}"
    return p  # type: ignore[return-value]


def run_command(prog: str, work: Callable[[], dict[str, Any]], args: argparse.Namespace,
                summary: Callable[[dict[str, Any]], str]) -> int:
    """Run `work`, map what it raises to one line and an exit code; on success print the JSON
    (--json) or a one-line summary (unless --quiet)."""
    try:
        result = work()
    except ParamError as exc:
        sys.stderr.write(f"{prog}: error: --{exc.name.replace('_', '-')}: "
                         f"{str(exc).split(': ', 1)[-1]}\n")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        sys.stderr.write(f"{prog}: interrupted; no output written\n")
        return EXIT_INTERRUPTED
    except Cancelled:
        sys.stderr.write(f"{prog}: cancelled; no output written\n")
        return EXIT_INTERRUPTED
    except EngineError as exc:
        sys.stderr.write(f"{prog}: error: {exc.message}\n")
        return EXIT_BAD_INPUT
    except OutputFailed as exc:
        sys.stderr.write(f"{prog}: error: {exc.message}\n")
        return EXIT_FAILED
    except MemoryError:
        sys.stderr.write(f"{prog}: error: out of memory; try a smaller --size\n")
        return EXIT_FAILED
    if getattr(args, "json", False):
        sys.stdout.write(json.dumps(result) + "\n")
    elif not getattr(args, "quiet", False):
        sys.stderr.write(summary(result) + "\n")
    return EXIT_OK
