#!/usr/bin/env bash
# The project's test command (README "Quick start"): a venv with the test dependencies, the
# linters, and the whole test suite. Safe to re-run; reuses .venv when present.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
# The CPU torch pin first: any other torch spec pulls several GB of CUDA wheels.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[test,bench]'
echo "== ruff"
.venv/bin/ruff check .
echo "== vermin (GIMP 2.10 plug-in and shared client must run on Python 2.7 and 3.x)"
.venv/bin/vermin -q --no-tips --violations -t=2.7- -t=3.8- gimp_plugin/
echo "== pytest"
exec .venv/bin/python -m pytest "$@"
