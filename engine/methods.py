"""The method registry: one line per `contract.Method`, naming the module attribute that
implements `engine.method.StyleMethod` and what it computes with (for the lane choice).

Entries are imported on first use, so a fast-network job never imports torch and a Gatys job
never loads onnxruntime. To add a method: a module implementing the interface, its enum value
and params in engine/contract.py (`Method`, `METHODS`), and one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from engine.contract import Method
from engine.method import StyleMethod
from engine.runtime import ONNX, TORCH


@dataclass(frozen=True)
class Entry:
    target: str  # "package.module:attribute"
    backend: str  # engine.runtime.TORCH or ONNX


REGISTRY: dict[Method, Entry] = {
    Method.GATYS: Entry("engine.gatys.transfer:METHOD", TORCH),
    Method.FAST: Entry("engine.fast:METHOD", ONNX),
    Method.ANALOGY: Entry("engine.analogy.reconstruct:METHOD", TORCH),
    Method.ARBITRARY: Entry("engine.arbitrary.transfer:METHOD", ONNX),
}


def backend(method: Method) -> str:
    return REGISTRY[method].backend


def get(method: Method) -> StyleMethod:
    module, _, attr = REGISTRY[method].target.partition(":")
    return getattr(importlib.import_module(module), attr)
