"""experiments.hanabi_crossplay on tiny agents: outputs, same deals, refusals before any work."""

import json
import os
import pathlib

import jax
import numpy as np
import pyspiel
import pytest
from hanabi_learning_environment import rl_env
from hanabi_learning_environment.agents.simple_agent import SimpleAgent

from bad.hanabi import agents
from bad.hanabi import network as hanabi_network
from bad.hanabi.agent import AgentConfig
from experiments import common, hanabi_crossplay
from games.hanabi import random_decks
from games.hanabi.config import make_config, preset_with_players


def _agent_file(folder, name, preset="very_small", method="bad", seed=0, players=0) -> str:
    config = AgentConfig(preset_with_players(preset, players), method=method, hidden_sizes=(8,))
    params = hanabi_network.init_params(config, jax.random.PRNGKey(seed))
    path = os.path.join(folder, name)
    agents.save_agent(path, agents.make_agent(config, params))
    return path


def _run(args):
    try:
        common.run_in_process(hanabi_crossplay.main, ["hanabi_crossplay", *args])
    except SystemExit as exit_:
        return exit_.code
    return 0


def test_crossplay_writes_the_matrix_and_is_deterministic(tmp_path, capsys):
    files = [_agent_file(tmp_path, "a.npz"), _agent_file(tmp_path, "b.npz", method="ippo", seed=1)]
    outputs = []
    for run in ("one", "two"):
        out = str(tmp_path / run)
        assert _run([f"--agents={','.join(files)}", "--num_games=2", "--seed=3",
                     f"--output_dir={out}"]) == 0
        outputs.append(out)
    results = json.loads(pathlib.Path(os.path.join(outputs[0], "results.json")).read_text())
    assert np.shape(results["mean_score"]) == (2, 2) and results["num_games"] == 2
    assert results == json.loads(pathlib.Path(os.path.join(outputs[1], "results.json")).read_text())
    csv_lines = pathlib.Path(os.path.join(outputs[0], "crossplay.csv")).read_text().splitlines()
    assert csv_lines[0].strip() == "agent,a.npz,b.npz"
    assert os.path.getsize(os.path.join(outputs[0], "crossplay.png")) > 0
    assert "step 8/8" in capsys.readouterr().out


def test_same_deals_for_every_pair_and_row_is_seat_zero(tmp_path):
    files = [_agent_file(tmp_path, "a.npz"), _agent_file(tmp_path, "b.npz", seed=1)]
    loaded = hanabi_crossplay.load_agents(files)
    scores = hanabi_crossplay.crossplay(loaded, 2, seed=5, greedy=True)
    alone = hanabi_crossplay.crossplay(loaded[1:], 2, seed=5, greedy=True)
    np.testing.assert_array_equal(scores[1, 1], alone[0, 0])


def test_three_players_with_mixed_agents_one_policy_per_seat(tmp_path):
    """A 3-player game of agent A in seat 0 and agent B in seats 1 and 2 scores what the same deal
    scores with a separate `OpenSpielPolicy` object in every seat."""
    files = [_agent_file(tmp_path, "a.npz", players=3),
             _agent_file(tmp_path, "b.npz", method="ippo", seed=1, players=3)]
    loaded = hanabi_crossplay.load_agents(files)
    scores = hanabi_crossplay.crossplay(loaded, 3, seed=2, greedy=False)
    assert scores.shape == (2, 2, 3)
    game = pyspiel.load_game("hanabi", loaded[0].config.game.open_spiel_params())
    assert game.num_players() == 3
    decks = random_decks(loaded[0].config.game, 3, np.random.default_rng(2))
    keys = jax.random.split(jax.random.PRNGKey(2), 3)
    for index, deck in enumerate(decks):
        seats = [agents.OpenSpielPolicy(agent, game, greedy=False, game_key=keys[index])
                 for agent in (loaded[0], loaded[1], loaded[1])]
        rng = np.random.default_rng([2, 0, 1, index])
        assert hanabi_crossplay.play_game(game, seats, deck, rng) == scores[0, 1, index]


@pytest.mark.parametrize("problem", ["foreign_game", "bad_file", "no_agents", "num_games"])
def test_refusals_are_one_line_before_any_work(tmp_path, capsys, problem):
    good = _agent_file(tmp_path, "a.npz")
    out = str(tmp_path / "out")
    args = {"foreign_game": [f"--agents={good},{_agent_file(tmp_path, 's.npz', 'small')}"],
            "bad_file": [f"--agents={good},{tmp_path / 'missing.npz'}"],
            "no_agents": ["--agents="],
            "num_games": [f"--agents={good}", "--num_games=0"]}[problem]
    assert _run([*args, f"--output_dir={out}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not os.path.exists(out)


def test_simple_agent_joins_the_matrix_and_scores(tmp_path):
    files = [_agent_file(tmp_path, "a.npz", preset="small")]
    out = str(tmp_path / "out")
    assert _run([f"--agents={files[0]}", "--simple_agent", "--num_games=3", "--seed=1",
                 f"--output_dir={out}"]) == 0
    results = json.loads(pathlib.Path(os.path.join(out, "results.json")).read_text())
    assert results["agents"] == ["a.npz", "simple"]
    assert np.shape(results["mean_score"]) == (2, 2)


def test_simple_policy_plays_simple_agents_moves_in_open_spiel(replay_hle_game):
    """SimpleAgent in rl_env, then each of its games' deals and moves replayed in OpenSpiel:
    `SimplePolicy` chooses every move SimpleAgent chose."""
    config = make_config("full")
    simple = hanabi_crossplay.SimplePolicy(config)
    env = rl_env.make("Hanabi-Full", num_players=2)
    game = pyspiel.load_game("hanabi", config.open_spiel_params())
    checked = 0
    for _ in range(3):
        observations, done = env.reset(), False
        seats = [SimpleAgent({"players": 2, "information_tokens": 8}) for _ in range(2)]
        while not done:
            player = observations["current_player"]
            move = seats[player].act(observations["player_observations"][player])
            observations, _, done, _ = env.step(move)
        state = game.new_initial_state()
        for action in replay_hle_game(env, state, config.ranks):
            assert simple.action_probabilities(state) == {action: 1.0}
            checked += 1
    assert checked > 10
