"""The inverse-CDF sampler shared by the games and the learners."""

import jax
import jax.numpy as jnp
import numpy as np

from games import sampling

_BELOW_ONE = np.float32(1) - np.float32(2**-24)  # The largest uniform `jax.random` gives.


def test_draws_follow_the_probabilities():
    """Frequencies over 250,000 draws per row within 5 standard errors of the (unnormalized)
    probabilities, never a category of probability 0, and an all-zero row's last category."""
    probs = np.array([[0.5, 0.0, 0.25, 0.25, 0.0],
                      [0.0, 0.0, 0.0, 0.0, 1.0],
                      [0.1, 0.2, 0.3, 0.4, 0.0],
                      [0.0, 0.0, 0.0, 0.0, 0.0]], np.float32) * 3.0
    draws = np.asarray(sampling.draw(jax.random.PRNGKey(0), jnp.asarray(probs), (250_000, 4)))
    assert draws.dtype == np.int32 and draws.shape == (250_000, 4)
    frequencies = (draws[..., None] == np.arange(5)).mean(0)
    expected = probs[:3] / probs[:3].sum(-1, keepdims=True)
    tolerance = 5 * np.sqrt(expected * (1 - expected) / 250_000) + 1e-9
    np.testing.assert_array_less(np.abs(frequencies[:3] - expected), tolerance)
    assert not frequencies[:3][expected == 0].any()
    assert (draws[:, 3] == 4).all()


def test_a_trailing_zero_is_never_drawn_at_the_top_of_the_range():
    """Normalized probabilities whose float sum falls short of 1: a uniform just below 1 once
    drew the trailing category of probability 0 (the CDF compared with the uniform alone)."""
    probs = np.array([0.6605776, 0.2797893, 0.04249265, 0.01714041, 0.0], np.float32)
    assert sampling.sample_with_uniform(jnp.float32(_BELOW_ONE), jnp.asarray(probs)) == 3
    rows = np.random.default_rng(0).random((10_000, 4)).astype(np.float32)
    rows = np.concatenate([rows / rows.sum(-1, keepdims=True), np.zeros((10_000, 1))], -1)
    drawn = sampling.sample_with_uniform(jnp.full(10_000, _BELOW_ONE), jnp.asarray(rows))
    assert (np.asarray(drawn) == 3).all()


def test_uniform_at_zero_gives_the_first_category_with_probability():
    probs = jnp.array([[0.0, 0.0, 2.0, 1.0], [1.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(sampling.sample_with_uniform(jnp.zeros(2), probs), [2, 0])


def test_draw_broadcasts_the_probabilities_against_the_shape():
    probs = jnp.array([[1.0, 0.0], [0.0, 1.0]])
    draws = np.asarray(sampling.draw(jax.random.PRNGKey(1), probs, (7, 2)))
    assert draws.shape == (7, 2) and (draws == [0, 1]).all()
