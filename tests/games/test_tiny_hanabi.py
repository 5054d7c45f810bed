"""Tests for games.tiny_hanabi: payoffs read through pyspiel, errors, and the pure-JAX game."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from games import tiny_hanabi

# The two-step matrix game of Foerster et al. (2019), OpenSpiel's default `tiny_hanabi`: the
# payoff of actions a1 (rows) and a2 (columns) for each pair of private cards (c1, c2).
TWO_STEP_PAYOFFS = np.array([
    [[[10, 0, 0], [4, 8, 4], [10, 0, 0]], [[0, 0, 10], [4, 8, 4], [0, 0, 10]]],
    [[[0, 0, 10], [4, 8, 4], [0, 0, 0]], [[10, 0, 0], [4, 8, 4], [10, 0, 0]]],
], np.float32)


def test_default_game_is_the_two_step_matrix_game():
    game = tiny_hanabi.TinyHanabi()
    assert (game.num_players, game.num_chance, game.num_actions) == (2, 2, 3)
    np.testing.assert_array_equal(game.payoffs, TWO_STEP_PAYOFFS)
    np.testing.assert_allclose(game.chance_probs, [0.5, 0.5])
    assert game.optimum == 10.0


def test_custom_payoff_round_trips_for_three_players():
    payoffs = np.random.default_rng(0).integers(0, 9, size=[2] * 3 + [2] * 3).astype(np.float32)
    game = tiny_hanabi.TinyHanabi({"num_players": 3, "num_chance": 2, "num_actions": 2,
                                   "payoff": tiny_hanabi.payoff_string(payoffs)})
    assert game.payoffs.shape == (2, 2, 2, 2, 2, 2)
    np.testing.assert_array_equal(game.payoffs, payoffs)


@pytest.mark.parametrize("params, message", [
    ({"players": 2}, "no parameter 'players'"),
    ({"num_players": "2"}, "must be an int"),
    ({"num_actions": 2.0}, "must be an int"),
    ({"num_chance": 0}, "at least 1"),
    ({"num_players": 3}, "needs a payoff parameter of 216"),
    ({"payoff": "1;2;3"}, "needs a payoff parameter of 36"),
    ({"payoff": "1;x"}, "';'-separated numbers"),
    ({"payoff": 3}, "';'-separated string"),
])
def test_bad_parameters_raise_one_sentence_value_errors(params, message):
    with pytest.raises(ValueError, match=message) as error:
        tiny_hanabi.TinyHanabi(params)
    assert "\n" not in str(error.value)


def test_load_matrix_game_reads_the_prisoners_dilemma():
    payoffs = tiny_hanabi.load_matrix_game("matrix_pd")
    assert payoffs.shape == (2, 2, 2)
    np.testing.assert_array_equal(payoffs[0], [[5, 0], [10, 1]])
    np.testing.assert_array_equal(payoffs[1], payoffs[0].T)
    assert tiny_hanabi.load_matrix_game("matrix_sh").shape == (2, 2, 2)


@pytest.mark.parametrize("name, message", [
    ("no_such_game", "unknown OpenSpiel game"), ("tic_tac_toe", "not a one-shot")])
def test_load_matrix_game_rejects_bad_names(name, message):
    with pytest.raises(ValueError, match=message):
        tiny_hanabi.load_matrix_game(name)


def test_jax_reward_matches_the_payoff_tensor():
    game = tiny_hanabi.TinyHanabi()
    key_cards, key_actions = jax.random.split(jax.random.key(0))
    cards = tiny_hanabi.deal(key_cards, jnp.asarray(game.chance_probs), 2, (64,))
    actions = jax.random.randint(key_actions, (64, 2), 0, 3)
    rewards = tiny_hanabi.reward(jnp.asarray(game.payoffs), cards, actions)
    expected = game.payoffs[cards[:, 0], cards[:, 1], actions[:, 0], actions[:, 1]]
    np.testing.assert_array_equal(rewards, expected)


def test_deal_and_act_sample_the_given_distributions():
    cards = tiny_hanabi.deal(jax.random.key(1), jnp.array([0.2, 0.8]), 3, (20_000,))
    assert cards.shape == (20_000, 3)
    np.testing.assert_allclose(np.mean(cards == 1, axis=0), 0.8, atol=0.02)
    probs = jnp.array([[0.1, 0.6, 0.3], [1.0, 0.0, 0.0]])
    actions = tiny_hanabi.act(jax.random.key(2), jnp.broadcast_to(probs, (20_000, 2, 3)))
    frequencies = np.stack([np.mean(actions == a, axis=0) for a in range(3)], axis=-1)
    np.testing.assert_allclose(frequencies, probs, atol=0.02)
    np.testing.assert_array_equal(
        actions, tiny_hanabi.act(jax.random.key(2), jnp.broadcast_to(probs, (20_000, 2, 3))))
