"""`games.hanabi`: bad input is a clear `ValueError` and leaves every game as it was."""

import dataclasses
import re

import numpy as np
import pytest

from games import hanabi
from games.hanabi.config import make_config


@pytest.mark.parametrize("spec,message", [
    ("huge", "unknown hanabi preset 'huge'"),
    ({"players": 6}, "'players' must be 2 to 5"),
    ({"players": "2"}, "'players' must be an int"),
    ({"colours": 5}, "unknown hanabi parameter 'colours'"),  # the parameter is `colors`
    ({"hand_size": 30}, "'hand_size' must be at most"),
])
@pytest.mark.parametrize("backend", hanabi.BACKENDS)
def test_bad_game_spec(spec, message, backend):
    with pytest.raises(ValueError, match=re.escape(message)):
        hanabi.HanabiGame(spec, 2, 0, backend)


@pytest.mark.parametrize("num_games", [0, -1, 2.0, True])
def test_bad_num_games(num_games):
    with pytest.raises(ValueError, match="num_games must be a positive int"):
        hanabi.HanabiGame("small", num_games, 0)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None])
def test_bad_seed(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int or a numpy Generator"):
        hanabi.HanabiGame("small", 2, seed)


def test_bad_backend():
    with pytest.raises(ValueError, match="unknown hanabi backend 'jax'; allowed: open_spiel, hle"):
        hanabi.HanabiGame("small", 2, 0, "jax")


def test_step_before_reset():
    with pytest.raises(ValueError, match="before reset"):
        hanabi.HanabiGame("small", 2, 0).step(np.zeros(2, np.int32))


@pytest.mark.parametrize("actions,message", [
    (np.zeros(3, np.int32), r"shape \(4,\), got int32 of shape \(3,\)"),
    (np.zeros((4, 1), np.int32), r"shape \(4,\), got int32 of shape \(4, 1\)"),
    (np.zeros(4, np.float32), "integer array"),
    (np.zeros(4, bool), "integer array"),
])
def test_bad_action_array(actions, message):
    game = hanabi.HanabiGame("small", 4, 0)
    game.reset()
    with pytest.raises(ValueError, match=message):
        game.step(actions)


@pytest.mark.parametrize("backend", hanabi.BACKENDS)
@pytest.mark.parametrize("bad_action", ["illegal", "negative", "too_large"])
def test_rejected_step_changes_no_game(backend, bad_action):
    game, twin = (hanabi.HanabiGame("full", 4, 3, backend) for _ in range(2))
    step, _ = game.reset(), twin.reset()
    rng = np.random.default_rng(0)
    for _ in range(5):  # A few moves in, so that some discards are illegal (tokens are full).
        actions = hanabi.random_legal_actions(step.legal_actions, rng)
        step, _ = game.step(actions), twin.step(actions)
    actions = hanabi.random_legal_actions(step.legal_actions, rng)
    bad = actions.copy()
    bad[2] = {"illegal": np.flatnonzero(~step.legal_actions[2])[0], "negative": -1,
              "too_large": make_config("full").num_actions}[bad_action]
    legal = np.flatnonzero(step.legal_actions[2]).tolist()
    message = (f"action {bad[2]} is not legal in game 2 (player {step.current_player[2]} to "
               f"move); legal: {legal}.")
    with pytest.raises(ValueError, match=re.escape(message)):
        game.step(bad)
    after, twin_after = game.step(actions), twin.step(actions)
    for field in dataclasses.fields(hanabi.HanabiStep):
        np.testing.assert_array_equal(getattr(after, field.name), getattr(twin_after, field.name))


@pytest.mark.parametrize("change,message", [
    (lambda decks: decks[:, :-1], r"shape \(2, 50\)"),
    (lambda decks: decks.astype(float), "integer array"),
    (lambda decks: np.where(np.arange(50) == 0, 25, decks),
     "holds card value 25; allowed: 0 to 24"),
    (lambda decks: np.where(np.arange(50) == 0, decks[:, 1:2], decks), "copies of card value"),
])
def test_bad_decks_change_nothing(change, message):
    game, twin = hanabi.HanabiGame("full", 2, 0), hanabi.HanabiGame("full", 2, 0)
    game.reset(), twin.reset()
    with pytest.raises(ValueError, match=message):
        game.reset(decks=change(game.decks))
    np.testing.assert_array_equal(game.decks, twin.decks)
    play_first_card = np.full(2, make_config("full").hand_size, np.int32)
    np.testing.assert_array_equal(game.step(play_first_card).observation,
                                  twin.step(play_first_card).observation)


def test_step_arrays_are_read_only():
    step = hanabi.HanabiGame("small", 2, 0).reset()
    with pytest.raises(ValueError):
        step.public_observation[0, 0, 0] = 1


def test_play_random_is_fast_and_reproducible():
    scores = hanabi.play_random("full", 64, seed=3, backend="hle")
    assert scores.shape == (64,) and scores.min() >= 0 and scores.max() <= 25
    np.testing.assert_array_equal(scores, hanabi.play_random("full", 64, seed=3))
