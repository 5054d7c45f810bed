"""Categorical draws by the inverse CDF, shared by the games and the learners.

One uniform per draw, where `jax.random.categorical` draws one Gumbel per category: on the CPU
threefry runs as a loop, so the random bits are most of a draw's cost (25 values per Hanabi
card), and a shared uniform is what makes BAD's partial policies reproducible by every player.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def sample_with_uniform(uniform: jax.Array, probs: jax.Array) -> jax.Array:
    """int32[...]: the category of `probs` (float[..., n], >= 0, need not sum to 1) at which
    the CDF passes `uniform` (float[...] in [0, 1)) times the row's total.

    A category of probability 0 is never drawn, also where rounding puts the threshold at the
    total; a row of zeros gives its last category.
    """
    cdf = jnp.cumsum(probs, axis=-1)
    threshold = uniform[..., None] * cdf[..., -1:]
    drawn = jnp.sum(cdf[..., :-1] <= threshold, axis=-1, dtype=jnp.int32)
    last = probs.shape[-1] - 1 - jnp.argmax((probs > 0)[..., ::-1], axis=-1)
    return jnp.minimum(drawn, last).astype(jnp.int32)


def draw(key: jax.Array, probs: jax.Array, shape: tuple[int, ...] | None = None) -> jax.Array:
    """int32[*shape]: categories drawn from `probs` [..., n] (as in `sample_with_uniform`; its
    leading axes broadcast against `shape`, which defaults to `probs.shape[:-1]`)."""
    if shape is None:
        shape = probs.shape[:-1]
    return sample_with_uniform(jax.random.uniform(key, shape, probs.dtype), probs)
