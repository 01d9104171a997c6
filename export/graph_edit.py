"""One step every ONNX graph rewrite here ends with (the Magenta conversion, the upscaler's
split skip): the new node list in place, minus what no longer feeds an output."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def set_nodes(graph: Any, nodes: Sequence[Any]) -> None:
    """Make `nodes` (in topological order) the graph's nodes, leaving out every node whose
    outputs nothing needs (walking back from the graph's outputs) and every initialiser no node
    reads."""
    needed = {o.name for o in graph.output}
    kept = []
    for n in reversed(nodes):
        if any(o in needed for o in n.output):
            kept.append(n)
            needed.update(n.input)
    kept.reverse()
    del graph.node[:]
    graph.node.extend(kept)
    used = {i for n in kept for i in n.input}
    inits = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(inits)
