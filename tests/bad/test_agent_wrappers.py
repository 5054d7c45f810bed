"""`bad.hanabi.agents.HleAgent` and the `games.hanabi.views` it rests on (another player's public
observation, rl_env's observation dict), checked against OpenSpiel and rl_env."""

import functools

import jax
import numpy as np
import pyspiel
import pytest
from hanabi_learning_environment import rl_env

from bad.hanabi import agents
from bad.hanabi import network as hanabi_network
from bad.hanabi.agent import AgentConfig
from games.hanabi import views as hanabi_views
from games.hanabi.config import make_config
from games.hanabi.layout import observation_layout


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


# --------------------------------------------------------------------------------------------
# HleAgent


@functools.cache
def _agent(method: str, players: int = 2) -> agents.Agent:
    config = AgentConfig(make_config({"preset": "very_small", "players": players}),
                         method=method, hidden_sizes=(8,))
    return agents.make_agent(config, hanabi_network.init_params(config, jax.random.PRNGKey(1)))


def _play_hle(seats, env):
    """One rl_env game; every seat's `act` sees every turn, as `rl_env.Agent` prescribes."""
    observations, done, evidences = env.reset(), False, []
    while not done:
        moves = [seat.act(observations["player_observations"][p]) for p, seat in enumerate(seats)]
        evidences.append([np.asarray(seat.evidence) for seat in seats])
        move = moves[observations["current_player"]]
        assert sum(m is not None for m in moves) == 1 and move is not None
        observations, _, done, _ = env.step(move)
    return evidences


@pytest.mark.parametrize("method, players", [("bad", 2), ("ippo", 2), ("bad", 3)])
def test_hle_agent_plays_the_open_spiel_policys_moves_on_the_same_deal(method, players,
                                                                       replay_hle_game):
    agent = _agent(method, players)
    env = rl_env.make("Hanabi-Very-Small", num_players=players)
    seed = 4
    seats = [agents.HleAgent(agent, greedy=True, seed=seed) for _ in range(players)]
    for game_index in range(2):
        evidences = _play_hle(seats, env)
        for every in evidences:  # the seats agree on the public belief
            for other in every[1:]:
                np.testing.assert_array_equal(every[0], other)
        # The same deal through OpenSpiel: the greedy policy plays every move HLE saw.
        config = agent.config.game
        game = pyspiel.load_game("hanabi", config.open_spiel_params())
        policy = agents.OpenSpielPolicy(agent, game, greedy=True, game_key=jax.random.fold_in(
            jax.random.PRNGKey(seed), game_index))
        state, moves = game.new_initial_state(), 0
        for action in replay_hle_game(env, state, config.ranks):
            probs = policy.action_probabilities(state)
            np.testing.assert_array_equal(np.asarray(policy.evidence(state)),
                                          evidences[moves][0])
            assert probs[action] == 1.0
            moves += 1
        assert moves == len(evidences) and state.is_terminal()


def test_sampling_hle_agents_complete_games_and_agree_on_the_belief():
    env = rl_env.make("Hanabi-Very-Small", num_players=2)
    seats = [agents.HleAgent(_agent("bad"), seed=7) for _ in range(2)]
    for _ in range(3):
        for both in _play_hle(seats, env):
            np.testing.assert_array_equal(both[0], both[1])
        assert env.state.is_terminal()


def test_hle_agent_refuses_another_game():
    env = rl_env.make("Hanabi-Small", num_players=2)
    seat = agents.HleAgent(_agent("bad"))
    with pytest.raises(ValueError, match="agent's game"):
        seat.act(env.reset()["player_observations"][0])


def test_hle_agent_refuses_an_observation_that_lacks_a_key_it_reads():
    seat = agents.HleAgent(_agent("bad"))
    env = rl_env.make("Hanabi-Very-Small", num_players=2)
    observation = dict(env.reset()["player_observations"][0])
    del observation["legal_moves_as_int"]
    with pytest.raises(ValueError, match="lacks 'legal_moves_as_int'"):
        seat.act(observation)


@pytest.mark.parametrize("name, spec", [("Hanabi-Full", "full"), ("Hanabi-Small", "small")])
def test_hle_observation_dict_is_rl_envs(name, spec):
    config = make_config(spec)
    env = rl_env.make(name, num_players=2)
    observations, done, rng, checked = env.reset(), False, np.random.default_rng(3), 0
    keys = ("current_player_offset", "num_players", "information_tokens", "fireworks",
            "observed_hands", "card_knowledge")
    while not done:
        for seen in observations["player_observations"]:
            mine = hanabi_views.hle_observation_dict(
                config, np.asarray(seen["vectorized"], np.float32), seen["current_player_offset"])
            assert mine == {key: seen[key] for key in keys}
            checked += 1
        legal = observations["player_observations"][observations["current_player"]]
        observations, _, done, _ = env.step(int(rng.choice(legal["legal_moves_as_int"])))
    assert checked > 4
