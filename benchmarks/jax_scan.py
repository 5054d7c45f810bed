"""Batched game steps in one jitted `lax.scan`, as a `harness` contender.

Shared by `jax_hanabi_throughput` (ours) and `jaxmarl_worker` (the peer, in its own virtualenv),
so both sides are timed by the same code. Imports only jax, numpy, `harness` and `hlo`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

from benchmarks import harness, hlo


def random_legal_actions(key: jax.Array, masks: jax.Array) -> jax.Array:
    """One uniformly random legal action per row of `masks` (bool [batch, actions])."""
    counts = masks.sum(axis=-1)
    pick = jax.random.randint(key, counts.shape, 0, counts)
    chosen = masks & (jnp.cumsum(masks, axis=-1) == pick[:, None] + 1)
    return jnp.argmax(chosen, axis=-1)


def replace_ended(done: jax.Array, games: Any, deal: Callable[[jax.Array], Any],
                  max_resets: int) -> Any:
    """`games` (a pytree, batch-leading) with the games where `done` replaced by `deal(indices)`.

    Only the ended games are dealt: up to `max_resets` of them through a gather and a scatter,
    more by dealing every game (the rule `games.hanabi.jax_game.step_batch` follows)."""
    batch_size = done.shape[0]

    def deal_some() -> Any:
        ended = jnp.nonzero(done, size=max_resets, fill_value=batch_size)[0]
        return jax.tree.map(lambda old, new: old.at[ended].set(new, mode="drop"), games,
                            deal(ended))

    def deal_all() -> Any:
        return jax.tree.map(
            lambda old, new: jnp.where(done.reshape((-1,) + (1,) * (old.ndim - 1)), new, old),
            games, deal(jnp.arange(batch_size)))

    return jax.lax.cond(jnp.sum(done) <= max_resets, deal_some, deal_all)


def scan_contender(name: str, one_step: Callable, state: Any, key: jax.Array, batch_size: int,
                   num_steps: int) -> harness.Timed:
    """A contender whose call runs `num_steps` of `one_step(state, key) -> (state, scalar)`.

    The scan is compiled here; each call starts from the same `state` and counts
    `batch_size * num_steps` steps. The note gives the state's bytes and the compiled scan's
    peak (`hlo.xla_buffer_bytes`) per game."""

    def run(carry):
        games, run_key = carry
        games, totals = jax.lax.scan(one_step, games, jax.random.split(run_key, num_steps))
        return games, totals.sum()

    compiled = jax.jit(run).lower((state, key)).compile()

    def call() -> float:
        jax.block_until_ready(compiled((state, key)))
        return float(batch_size * num_steps)

    state_kib = sum(x.nbytes for x in jax.tree.leaves(state)) / batch_size / 1024
    note = f"state {state_kib:.2f} KiB/game"
    peak = hlo.xla_buffer_bytes(compiled)
    if peak is not None:
        note += f", peak {peak / batch_size / 1024:.1f} KiB/game"
    return harness.Timed(name, call, note)
