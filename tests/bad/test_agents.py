"""Agent files (`bad.hanabi.agents.save_agent` / `load_agent`) and the OpenSpiel policy."""

import functools
import os
import pathlib
import pickle

import jax
import numpy as np
import pyspiel
import pytest

from bad.hanabi import agent as hanabi_agent
from bad.hanabi import agent_files, agents
from bad.hanabi import evaluation as hanabi_evaluation
from bad.hanabi.agent import AgentConfig
from bad.hanabi.learner import TrainConfig, init_train_state, train_updates
from games import hanabi
from games.hanabi.config import make_config


@functools.cache
def tiny_agent(method: str = "bad", seed: int = 0) -> agents.Agent:
    """A very_small agent after two training updates."""
    config = AgentConfig(make_config("very_small"), method=method, hidden_sizes=(16,))
    train = TrainConfig(agent=config, num_envs=8, rollout_length=4, num_minibatches=1,
                        num_epochs=1)
    state, _ = train_updates(train, init_train_state(train, jax.random.PRNGKey(seed)), 2)
    return agents.make_agent(config, state.params, training_steps=64, score=1.5, seed=seed)


def leaves_equal(a, b) -> bool:
    return all(jax.tree.leaves(jax.tree.map(lambda x, y: bool(np.array_equal(x, y)), a, b)))


def test_round_trip_keeps_params_header_and_decisions(tmp_path):
    agent = tiny_agent()
    path = str(tmp_path / "agent.npz")
    agents.save_agent(path, agent)
    loaded = agents.load_agent(path)
    assert loaded.config == agent.config
    assert jax.tree.structure(loaded.params) == jax.tree.structure(agent.params)
    assert leaves_equal(loaded.params, agent.params)
    for name in ("format_version", "game", "training_steps", "score"):
        assert name in loaded.header
    assert loaded.header["training_steps"] == 64 and loaded.header["score"] == 1.5
    assert loaded.header["seed"] == 0
    assert loaded.header["game"] == agent.config.game.open_spiel_params()
    names = set(np.load(path, allow_pickle=False).files)
    assert "policy/layers/0/w" in names and "critic/0/b" in names
    assert [p for p in os.listdir(tmp_path)] == ["agent.npz"]  # no temp file left behind

    game = make_config("very_small")
    from games.hanabi import jax_game as hanabi_jax
    state = hanabi_jax.reset(game, jax.random.PRNGKey(3))
    observation = hanabi_agent.observation_from_state(game, state)
    evidence = hanabi_agent.initial_evidence(agent.config)
    key = jax.random.PRNGKey(4)
    # Compiled (op by op it takes most of a minute); equal configs share the compiled function.
    act = jax.jit(hanabi_agent.act, static_argnums=0)
    first = act(agent.config, agent.params, observation, evidence, key)
    second = act(loaded.config, loaded.params, observation, evidence, key)
    assert leaves_equal(first, second)


def _write_npz(path, **arrays):
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)


def _header_bytes(header):
    import json
    return np.frombuffer(json.dumps(header).encode(), np.uint8)


@pytest.mark.parametrize("case, message", [
    ("missing", "does not exist"),
    ("truncated", "not a readable .npz"),
    ("random", "not a readable .npz"),
    ("pickled", "not a readable .npz"),
    ("single_array", "not a readable .npz"),
    ("no_header", "no __header__"),
    ("newer", "newer"),
    ("bad_json", "unreadable header"),
    ("header_lacks_score", "lacks 'score'"),
    ("wrong_array_shape", "expected float"),
    ("missing_array", "lacks array"),
    ("extra_array", "unknown array"),
    ("bad_agent_config", "invalid agent config"),
    ("bad_game", "invalid agent config"),
])
def test_bad_files_are_one_value_error_naming_the_file(tmp_path, case, message):
    agent = tiny_agent()
    good = str(tmp_path / "good.npz")
    agents.save_agent(good, agent)
    arrays = dict(np.load(good, allow_pickle=False))
    header = dict(agent.header)
    path = str(tmp_path / f"{case}.npz")
    if case == "truncated":
        data = pathlib.Path(good).read_bytes()
        pathlib.Path(path).write_bytes(data[:len(data) // 2])
    elif case == "random":
        pathlib.Path(path).write_bytes(np.random.default_rng(0).bytes(5000))
    elif case == "pickled":
        pathlib.Path(path).write_bytes(pickle.dumps({"policy": 1}))
    elif case == "single_array":
        with open(path, "wb") as handle:
            np.save(handle, np.zeros(3))
    elif case == "no_header":
        arrays.pop(agent_files.HEADER_ENTRY)
        _write_npz(path, **arrays)
    elif case in ("newer", "bad_json", "header_lacks_score", "bad_agent_config", "bad_game"):
        if case == "newer":
            header["format_version"] = agent_files.FORMAT_VERSION + 1
        if case == "header_lacks_score":
            header.pop("score")
        if case == "bad_agent_config":
            header["agent"] = {**header["agent"], "method": "nope"}
        if case == "bad_game":
            header["game"] = {**header["game"], "colors": 9}
        arrays[agent_files.HEADER_ENTRY] = (np.frombuffer(b"{not json", np.uint8)
                                            if case == "bad_json" else _header_bytes(header))
        _write_npz(path, **arrays)
    elif case == "wrong_array_shape":
        arrays["policy/bias"] = np.zeros(3, np.float32)
        _write_npz(path, **arrays)
    elif case == "missing_array":
        arrays.pop("critic/0/w")
        _write_npz(path, **arrays)
    elif case == "extra_array":
        arrays["optimizer/mu"] = np.zeros(3, np.float32)
        _write_npz(path, **arrays)
    with pytest.raises(ValueError, match=message) as error:
        agents.load_agent(path)
    assert path in str(error.value) and "\n" not in str(error.value)


def test_a_failed_save_leaves_the_old_file(tmp_path):
    agent = tiny_agent()
    path = str(tmp_path / "agent.npz")
    agents.save_agent(path, agent)
    before = pathlib.Path(path).read_bytes()
    broken = agents.Agent(agent.config, {"policy": agent.params["policy"]}, agent.header)
    with pytest.raises(ValueError, match="lacks array"):
        agents.save_agent(path, broken)
    assert pathlib.Path(path).read_bytes() == before and os.listdir(tmp_path) == ["agent.npz"]


# --------------------------------------------------------------------------------------------
# OpenSpielPolicy


def _open_spiel_game(config):
    return pyspiel.load_game("hanabi", config.open_spiel_params())


def _jax_path_game(agent, deck, game_key):
    """One greedy self-play game through `games.hanabi.HanabiGame` and `hanabi_agent.act`, as
    `hanabi_evaluation.play_open_spiel` plays it: the actions and the evidence before each."""
    config = agent.config
    game = hanabi.HanabiGame(config.game, 1, seed=0)
    step = game.reset(deck[None])
    evidence = hanabi_agent.initial_evidence(config)
    actions, evidences, move = [], [], 0
    act = jax.jit(functools.partial(hanabi_agent.act, config, greedy=True))
    while not step.done[0]:
        observation = hanabi_agent.observations_from_steps(
            config.game, step.public_observation, step.private_observation, step.card_knowledge,
            step.remaining_counts, step.legal_actions, step.current_player)
        observation = jax.tree.map(lambda x: x[0], observation)
        evidences.append(np.asarray(evidence))
        decision, evidence = act(agent.params, observation, evidence,
                                 jax.random.fold_in(game_key, move))
        actions.append(int(decision.action))
        step = game.step(np.asarray([decision.action]))
        move += 1
    return actions, evidences, int(step.score[0])


def _play_open_spiel(policies, deck):
    """A game in pyspiel dealt from `deck`; seat p asks `policies[p]` (greedy, probability 1)."""
    state = _open_spiel_game(policies[0].agent.config.game).new_initial_state()
    dealt, actions, evidences = 0, [], []
    while not state.is_terminal():
        if state.is_chance_node():
            state.apply_action(int(deck[dealt]))
            dealt += 1
            continue
        actor = state.current_player()
        evidences.append([np.asarray(p.evidence(state)) for p in policies])
        probs = policies[actor].action_probabilities(state)
        action = max(probs, key=probs.get)
        assert probs[action] == 1.0
        actions.append(action)
        state.apply_action(action)
    return actions, evidences, int(state.returns()[0])


@pytest.mark.parametrize("method", ["bad", "ippo"])
def test_greedy_policy_plays_the_jax_paths_moves_and_rebuilds_its_belief(method):
    agent = tiny_agent(method)
    game_key = jax.random.PRNGKey(11)
    deck = hanabi.random_decks(agent.config.game, 1, np.random.default_rng(5))[0]
    expected, expected_evidence, score = _jax_path_game(agent, deck, game_key)
    policy = agents.OpenSpielPolicy(agent, _open_spiel_game(agent.config.game), greedy=True,
                                    game_key=game_key)
    actions, evidences, os_score = _play_open_spiel([policy, policy], deck)
    assert actions == expected and os_score == score
    for mine, theirs in zip(evidences, expected_evidence):
        np.testing.assert_array_equal(mine[0], theirs)


def test_two_different_agents_each_track_the_belief_of_the_public_history():
    first, second = tiny_agent("bad", 0), tiny_agent("bad", 1)
    game = _open_spiel_game(first.config.game)
    key = jax.random.PRNGKey(2)

    def seat_both():
        return [agents.OpenSpielPolicy(a, game, greedy=True, game_key=key) for a in (first, second)]

    differ = False
    for deck in hanabi.random_decks(first.config.game, 3, np.random.default_rng(1)):
        actions, evidences, _ = _play_open_spiel(seat_both(), deck)
        # Each decision point again, from the state alone, by policies with empty caches.
        state, dealt, moves = game.new_initial_state(), 0, iter(actions)
        for seen in evidences:
            while state.is_chance_node():
                state.apply_action(int(deck[dealt]))
                dealt += 1
            for seat, policy in enumerate(seat_both()):
                np.testing.assert_array_equal(np.asarray(policy.evidence(state)), seen[seat])
            differ |= not np.array_equal(seen[0], seen[1])
            state.apply_action(next(moves))
    assert differ  # the two agents' likelihoods of the same moves differ


def test_sampled_policy_is_the_softmax_over_legal_actions():
    agent = tiny_agent()
    game = _open_spiel_game(agent.config.game)
    policy = agents.OpenSpielPolicy(agent, game, seed=3)
    state = game.new_initial_state()
    while state.is_chance_node():
        state.apply_action(state.legal_actions()[0])
    probs = policy.action_probabilities(state)
    assert sorted(probs) == state.legal_actions()
    assert np.isclose(sum(probs.values()), 1.0) and all(p > 0 for p in probs.values())
    greedy = agents.OpenSpielPolicy(agent, game, greedy=True, seed=3).action_probabilities(state)
    assert greedy[max(probs, key=probs.get)] == 1.0  # the most likely action of the same policy


def test_policy_refuses_other_games_and_non_decision_nodes():
    agent = tiny_agent()
    with pytest.raises(ValueError, match="differ from the agent's"):
        agents.OpenSpielPolicy(agent, pyspiel.load_game("hanabi"))
    with pytest.raises(ValueError, match="'hanabi'"):
        agents.OpenSpielPolicy(agent, pyspiel.load_game("kuhn_poker"))
    policy = agents.OpenSpielPolicy(agent, _open_spiel_game(agent.config.game))
    with pytest.raises(ValueError, match="decision node"):
        policy.action_probabilities(policy.game.new_initial_state())
    # A state of another game with as many players, or of another game altogether, is refused
    # before its moves are read with this game's action ids.
    params = {**policy.game.get_parameters(), "max_information_tokens": 4}
    other = pyspiel.load_game("hanabi", params).new_initial_state()
    while other.is_chance_node():
        other.apply_action(other.legal_actions()[0])
    with pytest.raises(ValueError, match="state's game parameters"):
        policy.action_probabilities(other)
    with pytest.raises(ValueError, match="'hanabi'"):
        policy.action_probabilities(pyspiel.load_game("kuhn_poker").new_initial_state())


def test_load_pretrained_reads_the_named_file_and_refuses_unknown_names(tmp_path, monkeypatch):
    with pytest.raises(ValueError,
                       match="must be one of very_small, small, full, full_3p, full_4p, full_5p"):
        agents.load_pretrained("huge")
    monkeypatch.setattr(agents, "PRETRAINED_DIR", str(tmp_path))
    with pytest.raises(ValueError, match="not installed"):
        agents.load_pretrained("small")
    agents.save_agent(str(tmp_path / "very_small.npz"), tiny_agent())
    loaded = agents.load_pretrained("very_small")
    assert loaded.config == tiny_agent().config and leaves_equal(loaded.params, tiny_agent().params)


@pytest.mark.parametrize("name, steps, floor, num_games", [("very_small", 1_000_000, 4.0, 50),
                                                         ("small", 48_000_000, 7.5, 20),
                                                         ("full", 50_000_000, 20.0, 20),
                                                         ("full_3p", 90_000_000, 18.71, 10),
                                                         ("full_4p", 90_000_000, 18.0, 10),
                                                         ("full_5p", 90_000_000, 15.26, 10)])
def test_a_shipped_agent_plays_well_through_open_spiel(name, steps, floor, num_games):
    """A pretrained agent (package data) scores near its recorded figure (`full`: 21.44 greedy
    over 1,000 games, so 20 games average above 20 with a wide margin)."""
    agent = agents.load_pretrained(name)
    assert agent.header["training_steps"] >= steps and agent.header["score"] > floor
    assert os.path.getsize(os.path.join(agents.PRETRAINED_DIR, f"{name}.npz")) < 5 * 2**20
    game = hanabi.HanabiGame(agent.config.game, num_games=num_games, seed=7)
    evaluation = hanabi_evaluation.play_open_spiel(agent.config, agent.params, game, None,
                                                   jax.random.PRNGKey(7), greedy=False)
    assert evaluation.scores.mean() > floor
