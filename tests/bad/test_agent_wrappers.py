"""`games.hanabi_views`: another player's public observation, checked against OpenSpiel."""

import numpy as np
import pyspiel
import pytest

from games import hanabi_views
from games.hanabi_config import make_config
from games.hanabi_layout import observation_layout


@pytest.mark.parametrize("spec", ["very_small", {"players": 3, "colors": 2, "ranks": 3,
                                                 "hand_size": 2}])
def test_rotated_public_observation_is_the_other_players(spec):
    config = make_config(spec)
    public = observation_layout(config).public
    game = pyspiel.load_game("hanabi", config.open_spiel_params())
    rng = np.random.default_rng(0)
    checked = 0
    for _ in range(5):
        state = game.new_initial_state()
        while not state.is_terminal():
            if not state.is_chance_node():
                views = [np.asarray(state.observation_tensor(p))[public]
                         for p in range(config.players)]
                for observer in range(config.players):
                    for offset in range(config.players):
                        np.testing.assert_array_equal(
                            hanabi_views.rotate_public(config, views[observer], offset),
                            views[(observer + offset) % config.players])
                checked += 1
            state.apply_action(int(rng.choice(state.legal_actions())))
    assert checked > 10


def test_rotation_refuses_a_wrong_size():
    with pytest.raises(ValueError, match="public observation must have"):
        hanabi_views.rotate_public(make_config("very_small"), np.zeros(3), 1)
