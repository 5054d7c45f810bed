"""Where a compiled JAX function's time goes, op by op, from the JAX profiler's trace.

`top_ops(call, repeats)` runs `call` (which must block until its work is done) under
`jax.profiler.trace`, reads the trace's events (`*.trace.json.gz`, Chrome trace format) and sums
the duration of each XLA op (fusion, dot, loop) over the calls. Events of the runtime around the
ops (thunk executors, dispatch, the Python side) are left out. An op that runs on several
threads at once is counted on each, and a loop (`while`) includes the ops of its body, so the
shares are of the summed op time, not of the wall clock: they say which ops dominate, not how
many milliseconds an update would save without them.
"""

from __future__ import annotations

import collections
import glob
import gzip
import json
import os
import tempfile
from collections.abc import Callable
from typing import NamedTuple

import jax

# Events of the runtime and of Python, not XLA ops.
_NOT_OPS = ("ThunkExecutor", "Thunk", "PjitFunction", "PjRt", "SlinkyThreadPool", "$",
            "ParseArguments", "Handle ", "AllocateOutputBuffers", "PythonRefManager",
            "CommonPjRt", "end: ")


class OpTime(NamedTuple):
    name: str
    ms_per_call: float
    share: float  # of the summed op time
    count_per_call: float


def _events(trace_dir: str) -> list[dict]:
    files = sorted(glob.glob(os.path.join(trace_dir, "plugins", "profile", "*",
                                          "*.trace.json.gz")))
    if not files:
        raise RuntimeError(f"the profiler wrote no trace under {trace_dir}")
    with gzip.open(files[-1]) as f:
        return [e for e in json.load(f)["traceEvents"] if e.get("ph") == "X"]


def op_times(events: list[dict], calls: int) -> list[OpTime]:
    """Each XLA op's summed duration per call, largest first (`events`: complete events 'X')."""
    total: collections.Counter[str] = collections.Counter()  # microseconds per op
    count: collections.Counter[str] = collections.Counter()  # runs per op
    for event in events:
        name = event["name"]
        if name.startswith(_NOT_OPS):
            continue
        total[name] += event["dur"]
        count[name] += 1
    summed = sum(total.values()) or 1.0
    return [OpTime(name, micros / 1e3 / calls, micros / summed, count[name] / calls)
            for name, micros in total.most_common()]


def top_ops(call: Callable[[], object], repeats: int = 3) -> list[OpTime]:
    """`op_times` of `repeats` calls of `call` (run once untimed first, to compile)."""
    call()
    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir):
            for _ in range(repeats):
                call()
        return op_times(_events(trace_dir), repeats)


def format_ops(title: str, ops: list[OpTime], shapes: dict[str, str], top: int = 8) -> str:
    """A table of the `top` ops: time per call, share, runs per call and the op's HLO shape
    (`shapes`, from `hlo_shapes`)."""
    lines = [title, f"{'op':<34}{'ms/call':>9}{'share':>8}{'runs':>7}  result shape"]
    for op in ops[:top]:
        lines.append(f"{op.name[:33]:<34}{op.ms_per_call:9.2f}{op.share:8.1%}"
                     f"{op.count_per_call:7.0f}  {shapes.get(op.name, '')[:60]}")
    return "\n".join(lines)


def hlo_shapes(hlo_text: str) -> dict[str, str]:
    """Op name -> its result shape, from a compiled module's HLO text (`compiled.as_text()`)."""
    shapes: dict[str, str] = {}
    for line in hlo_text.splitlines():
        line = line.strip()
        if line.startswith(("%", "ROOT %")) and " = " in line:
            name, rest = line.removeprefix("ROOT ").split(" = ", 1)
            shapes.setdefault(name.lstrip("%"), rest.split(" ", 1)[0])
    return shapes
