"""bad.partial_policy: sampling with one key, and log-probabilities with and without CF."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np

from bad import partial_policy


def test_counterfactual_log_prob_is_the_sum_over_private_values():
    logits = jax.random.normal(jax.random.key(0), (5, 3, 4))
    partial = jax.random.randint(jax.random.key(1), (5, 3), 0, 4)
    log_probs = jax.nn.log_softmax(logits)
    expected = sum(log_probs[np.arange(5), v, partial[:, v]] for v in range(3))
    np.testing.assert_allclose(partial_policy.counterfactual_log_prob(logits, partial), expected,
                               rtol=1e-6)
    for value in range(3):
        np.testing.assert_allclose(
            partial_policy.log_prob(logits, partial, jnp.full(5, value)),
            log_probs[np.arange(5), value, partial[:, value]], rtol=1e-6)


def test_counterfactual_probabilities_of_all_partial_policies_sum_to_one():
    logits = jax.random.normal(jax.random.key(2), (2, 3))
    every = jnp.array(list(itertools.product(range(3), repeat=2)))
    probs = jnp.exp(partial_policy.counterfactual_log_prob(logits, every))
    np.testing.assert_allclose(jnp.sum(probs), 1.0, rtol=1e-5)


def test_sampling_matches_the_policy_and_repeats_with_the_same_key():
    logits = jnp.log(jnp.array([[0.7, 0.2, 0.1], [0.05, 0.05, 0.9]]))
    batch = jnp.broadcast_to(logits, (40_000, 2, 3))
    partial = partial_policy.sample_partial_policy(jax.random.key(3), batch)
    assert partial.shape == (40_000, 2) and partial.dtype == jnp.int32
    frequencies = np.stack([np.mean(partial == a, axis=0) for a in range(3)], axis=-1)
    np.testing.assert_allclose(frequencies, jnp.exp(logits), atol=0.01)
    np.testing.assert_array_equal(
        partial, partial_policy.sample_partial_policy(jax.random.key(3), batch))
    played = partial_policy.played_action(partial, jnp.ones(40_000, jnp.int32))
    np.testing.assert_array_equal(played, partial[:, 1])
