"""Exact public-belief update for enumerable private information (BAD, Foerster et al. 2019).

A player's private value (for example a card) takes one of `num_values` values. Everyone knows
the deterministic partial policy `pi_hat` (value -> action) the acting player was given, and
sees the action it played, so the public posterior over the value is

    B'(f) = B(f) * 1[pi_hat(f) == action] / sum_g B(g) * 1[pi_hat(g) == action].
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


def consistent_values(partial_policy: jax.Array, action: jax.Array) -> jax.Array:
    """float[..., num_values]: 1 where the partial policy maps the value to `action`, else 0.

    Args:
      partial_policy: int[..., num_values], the action chosen for every private value.
      action: int[...], the action actually played.
    """
    return (partial_policy == action[..., None]).astype(jnp.float32)


def belief_update(prior: jax.Array, partial_policy: jax.Array, action: jax.Array) -> jax.Array:
    """Posterior float[..., num_values] over the actor's private value after it played `action`.

    Args:
      prior: float[..., num_values], the public belief before the action (broadcastable).
      partial_policy: int[..., num_values], the sampled deterministic partial policy.
      action: int[...], the action played.

    When no value with positive prior is consistent with the action (impossible on-policy; it
    can happen for hand-made inputs) the evidence carries no usable information and the prior is
    returned unchanged (normalized), rather than a division by zero.
    """
    prior = jnp.broadcast_to(prior, partial_policy.shape).astype(jnp.float32)
    unnormalized = prior * consistent_values(partial_policy, action)
    evidence = jnp.sum(unnormalized, axis=-1, keepdims=True)
    posterior = unnormalized / jnp.where(evidence > 0, evidence, 1.0)
    prior = prior / jnp.sum(prior, axis=-1, keepdims=True)
    return jnp.where(evidence > 0, posterior, prior)
