"""`python -m engine params`: print the parameter schema (the same JSON as GET /v1/params)."""

from __future__ import annotations

import argparse
import json
import sys

from engine.contract import schema


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("params", help="print the parameter schema as JSON")
    p.add_argument("-o", "--output", help="write to this file instead of stdout")


def run(args: argparse.Namespace) -> int:
    text = json.dumps(schema(), indent=2, sort_keys=True) + "\n"
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
    return 0
