"""bad.belief against brute-force Bayes over the joint enumeration of values and partial
policies."""

import itertools

import jax.numpy as jnp
import numpy as np
import pytest

from bad import belief


def brute_force_posterior(prior, policy, partial, action):
    """P(value | partial policy, action) from the joint P(value, partial policy, action)."""
    num_values, num_actions = policy.shape
    joint = np.zeros(num_values)
    for value in range(num_values):
        for candidate in itertools.product(range(num_actions), repeat=num_values):
            p_candidate = np.prod([policy[v, candidate[v]] for v in range(num_values)])
            played = candidate[value]
            if candidate == tuple(partial) and played == action:
                joint[value] += prior[value] * p_candidate
    return joint / joint.sum()


@pytest.mark.parametrize("num_values, num_actions", [(2, 3), (3, 2), (4, 3)])
def test_update_matches_brute_force_bayes(num_values, num_actions):
    rng = np.random.default_rng(num_values * 10 + num_actions)
    for _ in range(20):
        prior = rng.dirichlet(np.ones(num_values))
        policy = rng.dirichlet(np.ones(num_actions), size=num_values)
        partial = rng.integers(0, num_actions, num_values)
        action = partial[rng.integers(num_values)]
        expected = brute_force_posterior(prior, policy, partial, action)
        got = belief.belief_update(jnp.asarray(prior), jnp.asarray(partial), jnp.asarray(action))
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_update_is_batched_and_broadcasts_the_prior():
    partial = jnp.array([[2, 0], [1, 1], [0, 0]])
    action = jnp.array([0, 1, 2])
    posterior = belief.belief_update(jnp.array([0.25, 0.75]), partial, action)
    np.testing.assert_allclose(posterior[0], [0.0, 1.0])
    np.testing.assert_allclose(posterior[1], [0.25, 0.75])
    # No value is consistent with action 2: the (normalized) prior comes back.
    np.testing.assert_allclose(posterior[2], [0.25, 0.75])


def test_inconsistent_action_returns_the_normalized_prior():
    got = belief.belief_update(jnp.array([1.0, 3.0]), jnp.array([0, 0]), jnp.array(1))
    np.testing.assert_allclose(got, [0.25, 0.75])


def test_zero_prior_values_stay_zero():
    got = belief.belief_update(jnp.array([0.0, 0.5, 0.5]), jnp.array([1, 1, 0]), jnp.array(1))
    np.testing.assert_allclose(got, [0.0, 1.0, 0.0])
