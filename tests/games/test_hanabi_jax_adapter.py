"""`games.hanabi.jax_game` against the numpy adapter `games.hanabi.HanabiGame`: the same fields,
value for value.

The adapter deals finished games again from its own Generator; its `decks` tell which deal to give
the JAX games that ended, so both keep playing the same games.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from games import hanabi
from games.hanabi import jax_game as hanabi_jax
from games.hanabi.config import HanabiConfig, make_config


@functools.cache
def _features_fn(config: HanabiConfig):
    def features(state):
        players = jnp.arange(config.players)
        return dict(
            observation=jax.vmap(lambda p: hanabi_jax.observation(config, state, p))(players),
            public_observation=jax.vmap(
                lambda p: hanabi_jax.public_observation(config, state, p))(players),
            private_observation=jax.vmap(
                lambda p: hanabi_jax.private_observation(config, state, p))(players),
            legal_actions=hanabi_jax.legal_actions_mask(config, state),
            current_player=state.current_player.astype(jnp.int32),
            card_knowledge=hanabi_jax.card_knowledge(config, state),
            remaining_counts=hanabi_jax.remaining_counts(config, state),
        )

    return jax.jit(jax.vmap(features))


@functools.cache
def _step_fn(config: HanabiConfig):
    return jax.jit(jax.vmap(lambda s, a: hanabi_jax.step(config, s, a)))


@functools.cache
def _reset_fn(config: HanabiConfig):
    return jax.jit(jax.vmap(lambda d: hanabi_jax.reset_from_deck(config, d)))


def _check_features(config: HanabiConfig, state, step: hanabi.HanabiStep) -> None:
    for name, value in jax.device_get(_features_fn(config)(state)).items():
        np.testing.assert_array_equal(value, getattr(step, name), name)


@pytest.mark.parametrize("spec", ["small", {"preset": "full", "players": 3}])
def test_same_games_as_the_adapter(spec):
    config = make_config(spec)
    games = hanabi.HanabiGame(config, num_games=8, seed=0)
    step = games.reset()
    state = _reset_fn(config)(games.decks)
    rng = np.random.default_rng(1)
    finished = 0
    for _ in range(120):
        _check_features(config, state, step)
        actions = hanabi.random_legal_actions(step.legal_actions, rng)
        step = games.step(actions)
        state, rewards, done, info = jax.device_get(_step_fn(config)(state, actions))
        np.testing.assert_array_equal(rewards, step.rewards)
        np.testing.assert_array_equal(done, step.done)
        np.testing.assert_array_equal(info["score"], step.score)
        assert not info["illegal_action"].any()
        if done.any():
            finished += int(done.sum())
            fresh = _reset_fn(config)(games.decks)
            state = jax.tree.map(
                lambda new, old, done=done: np.where(
                    done.reshape((-1,) + (1,) * (old.ndim - 1)), new, old),
                fresh, state)
    assert finished >= 8
