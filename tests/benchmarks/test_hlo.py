"""benchmarks.hlo: what a compiled function's HLO says of its products, gathers and scatters."""

import jax
import jax.numpy as jnp

from benchmarks import hlo


def test_matrix_products_and_indexed_moves_read_a_compiled_function():
    def gather_sum_project(table, rows, weights):
        summed = jax.ops.segment_sum(table[rows] * 2.0, rows, num_segments=6)
        return summed @ weights

    compiled = jax.jit(gather_sum_project).lower(
        jnp.ones((6, 32)), jnp.arange(50) % 6, jnp.ones((32, 16))).compile()
    (product,) = hlo.matrix_products(compiled)
    assert product.shapes == "f32[6,16] = f32[6,32] x f32[32,16]"
    assert product.flops == 2 * 6 * 32 * 16
    moves = {move.kind: move for move in hlo.indexed_moves(compiled)}
    assert set(moves) == {"gather", "scatter"}
    assert moves["gather"].bytes_moved == 2 * 50 * 32 * 4  # its rows read, then written
    assert moves["scatter"].bytes_moved == 3 * 50 * 32 * 4  # updates read, rows read and written
