"""The OpenSpiel and HLE backends of `games.hanabi`, fed the same deals, agree step by step."""

import dataclasses

import numpy as np
import pyspiel
import pytest

from games import hanabi
from games.hanabi.config import make_config

# (spec, games per batch, steps): random play ends a game within a few dozen moves, so these
# finish well over 1,000 games across presets and 2 to 5 players.
CASES = [
    ("full", 24, 150),
    ("small", 24, 150),
    ("very_small", 24, 100),
    ({"players": 3}, 16, 150),
    ({"players": 4, "preset": "small"}, 16, 150),
    ({"players": 5}, 16, 150),
    ({"players": 3, "colors": 3, "ranks": 4, "hand_size": 3, "max_information_tokens": 4,
      "max_life_tokens": 2}, 16, 150),
    # Edge cases: one card of one color and rank; the whole deck dealt at the start.
    ({"colors": 1, "ranks": 1, "hand_size": 1, "max_information_tokens": 1,
      "max_life_tokens": 1}, 8, 60),
    ({"colors": 2, "ranks": 3, "hand_size": 6, "max_information_tokens": 20,
      "max_life_tokens": 5}, 8, 100),
]
SLOW_CASES = [({"players": players}, 64, 1500) for players in range(2, 6)]


def run_both_backends(spec, num_games: int, num_steps: int, seed: int) -> int:
    """Steps both backends with the same seed and moves, checking every field; returns the games
    ended."""
    games = {backend: hanabi.HanabiGame(spec, num_games, seed, backend)
             for backend in hanabi.BACKENDS}
    steps = {backend: game.reset() for backend, game in games.items()}
    rng = np.random.default_rng(seed + 1)
    finished = 0
    for _ in range(num_steps):
        assert_steps_equal(steps["open_spiel"], steps["hle"])
        np.testing.assert_array_equal(games["open_spiel"].decks, games["hle"].decks)
        actions = hanabi.random_legal_actions(steps["hle"].legal_actions, rng)
        steps = {backend: game.step(actions) for backend, game in games.items()}
        finished += int(steps["hle"].done.sum())
    assert_steps_equal(steps["open_spiel"], steps["hle"])
    return finished


def assert_steps_equal(first: hanabi.HanabiStep, second: hanabi.HanabiStep) -> None:
    for field in dataclasses.fields(hanabi.HanabiStep):
        a, b = getattr(first, field.name), getattr(second, field.name)
        assert a.dtype == b.dtype, field.name
        np.testing.assert_array_equal(a, b, err_msg=field.name)


@pytest.mark.parametrize("spec,num_games,num_steps", CASES)
def test_backends_agree_on_random_games(spec, num_games, num_steps):
    assert run_both_backends(spec, num_games, num_steps, seed=7) >= 50


@pytest.mark.slow
@pytest.mark.parametrize("spec,num_games,num_steps", SLOW_CASES)
def test_backends_agree_on_many_full_games(spec, num_games, num_steps):
    assert run_both_backends(spec, num_games, num_steps, seed=11) >= 1000


@pytest.mark.parametrize("spec", ["full", "very_small", {"players": 4}])
@pytest.mark.parametrize("backend", hanabi.BACKENDS)
def test_matches_pyspiel_replayed_from_the_deal(spec, backend):
    """Observations, legal moves, rewards and ends equal a `pyspiel` state replayed by hand."""
    config = make_config(spec)
    game = hanabi.HanabiGame(spec, 6, 3, backend)
    spiel = pyspiel.load_game("hanabi", config.open_spiel_params())
    step = game.reset()
    replays = [replay_deal(spiel, deck, config) for deck in game.decks]
    rng = np.random.default_rng(4)
    for _ in range(120):
        for index, (state, _dealt) in enumerate(replays):
            for player in range(config.players):
                np.testing.assert_array_equal(step.observation[index, player],
                                              state.observation_tensor(player))
            assert np.flatnonzero(step.legal_actions[index]).tolist() == state.legal_actions()
            assert game.legal_actions_of(index) == state.legal_actions()
            assert step.current_player[index] == state.current_player()
        actions = hanabi.random_legal_actions(step.legal_actions, rng)
        decks = game.decks
        step = game.step(actions)
        for index, (state, dealt) in enumerate(replays):
            before = state.returns()[0]
            state.apply_action(int(actions[index]))
            if not state.is_terminal() and state.is_chance_node():
                state.apply_action(int(decks[index, dealt]))
                dealt += 1
            replays[index] = (state, dealt)
            assert step.done[index] == state.is_terminal()
            assert step.score[index] == state.returns()[0]
            np.testing.assert_array_equal(step.rewards[index], state.returns()[0] - before)
            if state.is_terminal():
                replays[index] = replay_deal(spiel, game.decks[index], config)


def replay_deal(spiel, deck: np.ndarray, config):
    """A new `pyspiel` state with the opening hands dealt from `deck`, and the cards dealt."""
    state = spiel.new_initial_state()
    dealt = config.players * config.hand_size
    for value in deck[:dealt]:
        state.apply_action(int(value))
    return state, dealt


def test_same_seed_same_games_and_given_decks_replay():
    first = hanabi.HanabiGame("small", 8, 5, "open_spiel")
    second = hanabi.HanabiGame("small", 8, 5, "hle")
    np.testing.assert_array_equal(first.reset().observation, second.reset().observation)
    replay = hanabi.HanabiGame("small", 8, 99, "hle")
    assert_steps_equal(replay.reset(decks=first.decks), second.reset(decks=first.decks))
