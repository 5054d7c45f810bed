"""What a compiled JAX computation (`jax.jit(f).lower(...).compile()`) does, as XLA tells it.

The bytes of its buffers (`xla_buffer_bytes`), XLA's cost analysis (`xla_flops_and_bytes`), and,
read from its HLO text, its matrix products (`matrix_products`) and its gathers and scatters
(`indexed_moves`). The benchmarks print these beside their rates.

Only the standard library is imported, as in `harness`: `jax_scan` imports this module, and the
JaxMARL worker imports `jax_scan` inside the peer's own virtualenv.
"""

from __future__ import annotations

import math
import re
from typing import Any, NamedTuple


def xla_buffer_bytes(compiled: Any) -> int | None:
    """Bytes of the buffers a compiled JAX computation holds while it runs: XLA's arguments,
    outputs and temporaries, less the buffers aliased between them; None where the backend
    gives no memory analysis."""
    stats = compiled.memory_analysis()
    if stats is None:
        return None
    return (stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
            - stats.alias_size_in_bytes)


class MatrixProduct(NamedTuple):
    """One `dot` of a compiled XLA computation: its shapes as printed and its multiply-adds x 2."""

    shapes: str  # "f32[32000,20] = f32[32000,256] x f32[256,20]"
    flops: float


_HLO_VALUE = re.compile(r"\s*(?:ROOT )?(%[\w.\-]+) = (\w+\[[\d,]*\])")
_HLO_DOT = re.compile(r"= (\w+\[[\d,]*\])\S* dot\((%[\w.\-]+), (%[\w.\-]+)\)")
_LHS_CONTRACTING = re.compile(r"lhs_contracting_dims=\{([\d,]*)\}")


def _dims(shape: str) -> list[int]:
    inside = shape[shape.index("[") + 1:-1]
    return [int(d) for d in inside.split(",")] if inside else []


def _hlo_lines_and_shapes(compiled: Any) -> tuple[list[str], dict[str, str]]:
    """A compiled computation's HLO text lines and the shape of every value they define."""
    lines = compiled.as_text().splitlines()
    return lines, {m.group(1): m.group(2) for m in map(_HLO_VALUE.match, lines) if m}


def matrix_products(compiled: Any) -> list[MatrixProduct]:
    """Every `dot` of a compiled JAX computation (`jit(f).lower(...).compile()`), largest first.

    A loop body's products are listed once, however many times the loop runs."""
    lines, shapes = _hlo_lines_and_shapes(compiled)
    products = []
    for line in lines:
        dot = _HLO_DOT.search(line)
        if not dot:
            continue
        out, lhs, rhs = dot.group(1), shapes.get(dot.group(2), "?"), shapes.get(dot.group(3), "?")
        contracting = _LHS_CONTRACTING.search(line)
        axes = contracting.group(1).split(",") if contracting and contracting.group(1) else []
        size = math.prod(_dims(lhs)[int(a)] for a in axes) if lhs != "?" else 1
        products.append(MatrixProduct(f"{out} = {lhs} x {rhs}", 2.0 * size * math.prod(_dims(out))))
    return sorted(products, key=lambda p: -p.flops)


class IndexedMove(NamedTuple):
    """One `gather` or `scatter` of a compiled XLA computation and the bytes it moves."""

    kind: str  # "gather" or "scatter"
    shape: str  # the gathered rows or the scattered updates, e.g. "f32[50000,1,128]"
    bytes_moved: float


_HLO_INDEXED = re.compile(
    r"= (\w+\[[\d,]*\])\S* (gather|scatter)\((%[\w.\-]+), (%[\w.\-]+)(?:, (%[\w.\-]+))?\)")
_ELEMENT_BYTES = {"pred": 1, "s8": 1, "u8": 1, "bf16": 2, "f16": 2, "s16": 2, "u16": 2,
                  "f32": 4, "s32": 4, "u32": 4, "f64": 8, "s64": 8, "u64": 8}


def _shape_bytes(shape: str) -> int:
    return _ELEMENT_BYTES.get(shape[:shape.index("[")], 4) * math.prod(_dims(shape))


def indexed_moves(compiled: Any) -> list[IndexedMove]:
    """Every `gather` and `scatter` of a compiled JAX computation, most bytes first.

    The bytes are a floor for random row access: a gather reads its rows and writes them out
    (its output twice); a scatter-add reads its updates and reads and writes the rows they add
    to (the updates three times).
    """
    lines, shapes = _hlo_lines_and_shapes(compiled)
    moves = []
    for match in filter(None, map(_HLO_INDEXED.search, lines)):
        out, kind, updates = match.group(1), match.group(2), match.group(5)
        if kind == "gather":
            moves.append(IndexedMove(kind, out, 2.0 * _shape_bytes(out)))
        elif updates in shapes:
            moves.append(IndexedMove(kind, shapes[updates], 3.0 * _shape_bytes(shapes[updates])))
    return sorted(moves, key=lambda m: -m.bytes_moved)


def xla_flops_and_bytes(compiled: Any) -> tuple[float, float]:
    """XLA's cost analysis of a compiled computation: (FLOPs, bytes accessed); a loop body is
    counted once, so pass a computation whose loops run once."""
    cost = compiled.cost_analysis()
    if isinstance(cost, (list, tuple)):
        cost = cost[0]
    return float(cost.get("flops", 0.0)), float(cost.get("bytes accessed", 0.0))
