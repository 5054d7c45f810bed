"""Deterministic partial policies: one action for every private value, sampled with one key.

BAD's public agent sees only public features and outputs, for every value `f` the acting player's
private observation could take, a distribution `pi(. | f)`. Sampling one action per value gives
the deterministic partial policy `pi_hat` (value -> action); the acting player plays
`pi_hat(f_actual)`. All players share the key, so everyone can reconstruct `pi_hat`.

Log-probabilities, for REINFORCE:
* without the counterfactual (CF) term: `log pi(pi_hat(f_actual) | f_actual)`, the usual
  log-probability of the action played;
* with CF: `sum_f log pi(pi_hat(f) | f) = log P(pi_hat)`, because the whole partial policy
  (not only the played action) changes the public belief and so the return.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from games.sampling import sample_with_uniform


def sample_partial_policy(key: jax.Array, logits: jax.Array) -> jax.Array:
    """int32[..., num_values]: one action per private value, all drawn with the one `key`.

    Args:
      key: the shared sampling key.
      logits: float[..., num_values, num_actions], the policy for every private value.
    """
    uniform = jax.random.uniform(key, logits.shape[:-1], logits.dtype)
    return partial_policy_from_uniform(uniform, jax.nn.softmax(logits, axis=-1))


def partial_policy_from_uniform(uniform: jax.Array, probs: jax.Array) -> jax.Array:
    """int32[..., num_values]: the partial policy given the shared uniform draws, by inverse CDF.

    Args:
      uniform: float[..., num_values] in [0, 1), one draw per private value, from the shared key.
      probs: float[..., num_values, num_actions], the policy for every private value.
    """
    return sample_with_uniform(uniform, probs)


def played_action(partial_policy: jax.Array, private_value: jax.Array) -> jax.Array:
    """int32[...]: the action the partial policy gives the actual private value."""
    return jnp.take_along_axis(partial_policy, private_value[..., None], axis=-1)[..., 0]


def value_log_probs(logits: jax.Array, partial_policy: jax.Array) -> jax.Array:
    """float[..., num_values]: `log pi(pi_hat(f) | f)` for every private value `f`.

    `logits` (float[..., num_values, num_actions]) broadcast against `partial_policy`.
    """
    log_probs = jax.nn.log_softmax(logits, axis=-1)
    log_probs = jnp.broadcast_to(log_probs, partial_policy.shape + log_probs.shape[-1:])
    return jnp.take_along_axis(log_probs, partial_policy[..., None], axis=-1)[..., 0]


def log_prob(logits: jax.Array, partial_policy: jax.Array, private_value: jax.Array) -> jax.Array:
    """float[...]: `log pi(pi_hat(f) | f)` at the actual value `f` (no counterfactual term)."""
    per_value = value_log_probs(logits, partial_policy)
    return jnp.take_along_axis(per_value, private_value[..., None], axis=-1)[..., 0]


def counterfactual_log_prob(logits: jax.Array, partial_policy: jax.Array) -> jax.Array:
    """float[...]: `sum_f log pi(pi_hat(f) | f)`, the whole partial policy's log-probability."""
    return jnp.sum(value_log_probs(logits, partial_policy), axis=-1)
