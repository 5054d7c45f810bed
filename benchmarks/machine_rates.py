"""The machine's own rates, timed as every benchmark times (`harness.compare`): the floors that
XLA's cost analysis of a compiled step is measured against."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from benchmarks import harness

MATMUL_SHAPE = (8192, 1024, 256)  # about the Hanabi learner's largest product
BANDWIDTH_FLOATS = 2**25  # 128 MiB of float32, far beyond the caches


def repeat(name: str, call: Callable[[], Any], units: float) -> harness.Timed:
    """A contender whose every call runs `call()` to completion and counts `units`."""
    def timed() -> float:
        jax.block_until_ready(call())
        return units
    return harness.Timed(name, timed)


def matmul_rate(rounds: int, min_seconds: float) -> float:
    """The median rate (FLOP/s) of a [8192, 1024] x [1024, 256] f32 matrix product."""
    rows, inner, cols = MATMUL_SHAPE
    lhs = jax.random.normal(jax.random.PRNGKey(0), (rows, inner))
    rhs = jax.random.normal(jax.random.PRNGKey(1), (inner, cols))
    product = jax.jit(lambda a, b: a @ b)
    gigaflops = 2.0 * rows * inner * cols / 1e9
    (summary,) = harness.compare(f"Matrix product rate, [{rows}, {inner}] x [{inner}, {cols}] f32",
                                 "GFLOP", [repeat("matmul", lambda: product(lhs, rhs), gigaflops)],
                                 rounds, min_seconds)
    return summary.median * 1e9


def memory_bandwidth(rounds: int, min_seconds: float) -> float:
    """The median rate (bytes/s) of `x <- x / 2 + 1` in place over 128 MiB of float32: each
    element read once and written once, as a streaming copy moves it. The buffer is donated to
    each call, so that no call pays for fresh pages."""
    halve = jax.jit(lambda x: 0.5 * x + 1.0, donate_argnums=0)
    values = jnp.ones(BANDWIDTH_FLOATS, jnp.float32)

    def call() -> jax.Array:
        nonlocal values
        values = halve(values)
        return values

    gigabytes = 2.0 * BANDWIDTH_FLOATS * 4 / 1e9
    (summary,) = harness.compare("Memory bandwidth, x <- x / 2 + 1 over 128 MiB of float32",
                                 "GB", [repeat("stream", call, gigabytes)], rounds, min_seconds)
    return summary.median * 1e9
