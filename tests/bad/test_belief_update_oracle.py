"""BAD's fast belief update against a straightforward oracle, on real game states of 2-5 players.

The oracle (`_oracle_*`) is the formulation the fast code replaced, written out in numpy one
counterfactual hand at a time: every partner slot set to every value, a whole forward pass of the
policy read off the parameter dict, the legal moves of that hand, a softmax, the floored average
over the public samples. The fast code (`bad.hanabi.likelihood`, `bad.hanabi.exact_belief`) gets
the same numbers with one rank-one change per hand and a cache-sized chunk of games at a time
(`hanabi_agent.act_batch`); these tests hold them together within float32 rounding.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bad.hanabi import agent as hanabi_agent
from bad.hanabi import exact_belief as hanabi_exact_belief
from bad.hanabi import likelihood as hanabi_likelihood
from bad.hanabi import network as hanabi_network
from bad.hanabi.agent import AgentConfig
from games.hanabi import jax_game as hanabi_jax
from games.hanabi import rules as hanabi_rules
from games.hanabi.config import make_config
from games.hanabi.layout import action_layout


@functools.cache
def _compiled_rules(game):
    return (jax.jit(functools.partial(hanabi_jax.legal_actions_mask, game)),
            jax.jit(functools.partial(hanabi_jax.step, game)))


def _played_state(game, seed: int, moves: int):
    """A game after `moves` random legal moves (fewer if it ends first)."""
    legal_of, step = _compiled_rules(game)
    rng = np.random.default_rng(seed)
    state = hanabi_jax.reset(game, jax.random.PRNGKey(seed))
    for _ in range(moves):
        legal = np.flatnonzero(np.asarray(legal_of(state)))
        next_state, _, done, _ = step(state, int(rng.choice(legal)))
        if bool(done):
            break
        state = next_state
    return state


class _OracleNetwork:
    """The policy's whole forward pass for one partner hands array [players - 1, hand_size]
    (-1 empty), the first layer summed row by row from the parameter dict."""

    def __init__(self, config: AgentConfig, policy, public_input):
        game = config.game
        self.status = np.asarray(hanabi_network.card_status_of(config, public_input))
        self.private = np.asarray(policy["private"]).reshape(game.players - 1, game.hand_size,
                                                             game.num_values, -1)
        self.status_rows = np.asarray(policy["status"])
        self.public = (np.asarray(public_input) @ np.asarray(policy["public"])
                       + np.asarray(policy["bias"]))
        self.layers = [(np.asarray(layer["w"]), np.asarray(layer["b"]))
                       for layer in policy["layers"]]

    def logits(self, hands) -> np.ndarray:
        x = self.public
        for (partner, slot), card in np.ndenumerate(hands):
            if card >= 0:
                x = x + self.private[partner, slot, card] + (self.status[card]
                                                             @ self.status_rows[partner, slot])
        for w, b in self.layers:
            x = np.maximum(x, 0.0) @ w + b
        return x


def _oracle_legal(game, legal_actions, hands) -> np.ndarray:
    """The legal moves had the partners held `hands`: the real plays and discards, a hint when
    a token is left and its target holds a card of that color or rank."""
    legal_actions = np.asarray(legal_actions)
    layout = action_layout(game)
    can_hint = legal_actions[layout.color_hint.start:layout.rank_hint.stop].any()
    legal = legal_actions.copy()
    for partner in range(game.players - 1):
        cards = [int(c) for c in hands[partner] if c >= 0]
        for color in range(game.colors):
            legal[layout.color_hint.start + partner * game.colors + color] = can_hint and any(
                c // game.ranks == color for c in cards)
        for rank in range(game.ranks):
            legal[layout.rank_hint.start + partner * game.ranks + rank] = can_hint and any(
                c % game.ranks == rank for c in cards)
    return legal


def _oracle_probability(network: _OracleNetwork, game, legal_actions, hands, action) -> float:
    logits = np.where(_oracle_legal(game, legal_actions, hands), network.logits(hands), -np.inf)
    logits = logits - logits.max()
    return float(np.exp(logits[action]) / np.exp(logits).sum())


def _floored_log(config: AgentConfig, probability):
    floor = config.likelihood_floor
    return np.log(floor + (1.0 - floor) * np.asarray(probability))


def _oracle_partner_log_likelihood(config, policy, public_input, legal_actions, samples,
                                   action) -> np.ndarray:
    """log L [players - 1, hand_size, values], one whole forward pass per counterfactual hand."""
    game, network = config.game, _OracleNetwork(config, policy, public_input)
    samples, legal_actions = np.asarray(samples), np.asarray(legal_actions)
    mean = np.zeros((game.players - 1, game.hand_size, game.num_values))
    for sample in samples:
        for partner, slot, value in np.ndindex(mean.shape):
            hands = sample.copy()
            hands[partner, slot] = value
            mean[partner, slot, value] += _oracle_probability(
                network, game, legal_actions, hands, action) / len(samples)
    return np.where((samples[0] >= 0)[..., None], _floored_log(config, mean), 0.0)


def _oracle_joint_log_likelihood(config, policy, public_input, legal_actions, valid,
                                 action) -> np.ndarray:
    """log L [values, values] of every two-card hand of the single partner."""
    values, network = config.game.num_values, _OracleNetwork(config, policy, public_input)
    legal_actions = np.asarray(legal_actions)
    table = np.zeros((values, values))
    for first, second in np.ndindex(table.shape):
        hands = np.array([[first, second if valid[1] else -1]])
        table[first, second] = _oracle_probability(network, config.game, legal_actions, hands,
                                                   action)
    return _floored_log(config, table)


def _agent_at(config: AgentConfig, seed: int):
    """Parameters with logits of order one, an observation of a played game, its public context
    (random evidence, so the belief is not V0) and a legal action of the actor."""
    game = config.game
    params = hanabi_network.init_params(config, jax.random.PRNGKey(seed))
    params["policy"]["layers"][-1]["w"] = params["policy"]["layers"][-1]["w"] * 100.0
    observation = jax.jit(hanabi_agent.observation_from_state, static_argnums=0)(
        game, _played_state(game, seed, 3 + seed))
    evidence = hanabi_agent.initial_evidence(config)
    if not config.exact_belief:
        evidence = jax.random.uniform(jax.random.PRNGKey(seed + 100), evidence.shape,
                                      minval=-4.0, maxval=0.0)
    context = jax.jit(hanabi_agent.public_context, static_argnums=0)(
        config, observation, evidence, jax.random.PRNGKey(seed + 200))
    legal = np.flatnonzero(np.asarray(observation.legal_actions))
    action = int(np.random.default_rng(seed).choice(legal))
    return params, observation, evidence, context, action


@pytest.mark.parametrize("players,samples", [(2, 1), (3, 2), (4, 1), (5, 2)])
def test_factorised_likelihood_equals_the_oracle(players, samples):
    config = AgentConfig(make_config({"preset": "full", "players": players}),
                         hidden_sizes=(24, 16), likelihood_samples=samples)
    params, observation, evidence, context, action = _agent_at(config, players * 10 + samples)
    policy = params["policy"]
    fast = jax.jit(hanabi_likelihood.partner_log_likelihood, static_argnums=0)(
        config, policy, context.public_input,
        observation.legal_actions, context.samples, action)
    oracle = _oracle_partner_log_likelihood(config, policy, context.public_input,
                                            observation.legal_actions, context.samples, action)
    np.testing.assert_allclose(fast, oracle, rtol=1e-4, atol=1e-5)
    # The agent's `observe` is that evidence, tracked: the partners' rows move by it.
    after = jax.jit(hanabi_agent.observe, static_argnums=0)(config, params, context, observation,
                                                           jnp.asarray(action))
    tracked = hanabi_likelihood.track_likelihood(config, evidence, observation.current_player,
                                                 jnp.asarray(oracle, jnp.float32), action)
    np.testing.assert_allclose(after, tracked, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("seed", [0])
def test_exact_joint_likelihood_equals_the_oracle(seed):
    config = AgentConfig(make_config("small"), hidden_sizes=(24,), exact_belief=True)
    params, observation, _, context, action = _agent_at(config, seed)
    policy = params["policy"]
    valid = np.asarray(hanabi_rules.relative_rows(observation.card_knowledge.any(-1),
                                                  observation.current_player)[1])
    fast = jax.jit(hanabi_exact_belief.joint_partner_log_likelihood, static_argnums=0)(
        config, policy, context.public_input, observation.legal_actions, jnp.asarray(valid),
        action)
    oracle = _oracle_joint_log_likelihood(config, policy, context.public_input,
                                          observation.legal_actions, valid, action)
    np.testing.assert_allclose(fast, oracle, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("most, games, expected", [
    (16, 256, 16), (16, 65, 13), (32, 4, 4), (None, 256, 256), (1, 3, 1)])
def test_chunks_are_of_one_size_within_the_limit(most, games, expected, monkeypatch):
    """`chunk_size`: at most `games_per_chunk` games, as few chunks as that allows, of one size
    where it can (65 games in 5 chunks of 13, not 4 of 16 and one of 1)."""
    monkeypatch.setattr(hanabi_agent, "games_per_chunk", lambda config: most)
    agent = AgentConfig(make_config("small"), hidden_sizes=(16,))
    assert hanabi_agent.chunk_size(agent, games) == expected


@pytest.mark.parametrize("agent", [
    AgentConfig(make_config({"preset": "full", "players": 3}), hidden_sizes=(16,)),
    AgentConfig(make_config("small"), hidden_sizes=(16,), exact_belief=True),
    AgentConfig(make_config("small"), method="ippo", hidden_sizes=(16,))],
    ids=["bb_3p", "exact", "ippo"])
def test_act_batch_in_chunks_equals_act_game_by_game(agent, monkeypatch):
    """A batch that the chunk size does not divide (5 games in chunks of 2): every game's
    decision and evidence are those of `act` on that game alone."""
    monkeypatch.setattr(hanabi_agent, "_CHUNK_BYTES", 1)
    assert hanabi_agent.games_per_chunk(agent) == (1 if agent.is_bad else None)
    monkeypatch.setattr(hanabi_agent, "games_per_chunk",
                        lambda config: 2 if config.is_bad else None)
    game, games = agent.game, 5
    params = hanabi_network.init_params(agent, jax.random.PRNGKey(0))
    states = [_played_state(game, seed, 2 * seed) for seed in range(games)]
    observation = jax.tree.map(lambda *x: jnp.stack(x),
                               *[hanabi_agent.observation_from_state(game, s) for s in states])
    evidence = jnp.stack([hanabi_agent.initial_evidence(agent)] * games)
    keys = jax.random.split(jax.random.PRNGKey(7), games)
    chunked_decision, chunked_evidence = jax.jit(functools.partial(
        hanabi_agent.act_batch, agent))(params, observation, evidence, keys)
    monkeypatch.setattr(hanabi_agent, "games_per_chunk", lambda config: None)  # all at once
    whole_decision, whole_evidence = jax.jit(functools.partial(
        hanabi_agent.act_batch, agent))(params, observation, evidence, keys)
    act = jax.jit(functools.partial(hanabi_agent.act, agent))
    for g in range(games):
        one = jax.tree.map(lambda x, g=g: x[g], (observation, evidence, keys))
        decision, after = act(params, *one)
        assert int(chunked_decision.action[g]) == int(decision.action)
        np.testing.assert_allclose(chunked_evidence[g], after, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(chunked_decision.log_prob[g], decision.log_prob, rtol=1e-5)
    np.testing.assert_allclose(chunked_evidence, whole_evidence, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(chunked_decision.action, whole_decision.action)


def test_public_samples_follow_the_belief():
    """Public hand samples: each slot drawn from its belief by `games.sampling` (tested there),
    -1 for empty slots, never a value of probability 0."""
    belief = np.array([[0.5, 0.0, 0.25, 0.25, 0.0],
                       [0.0, 0.0, 0.0, 0.0, 1.0],
                       [0.1, 0.2, 0.3, 0.4, 0.0]], np.float32) * 3.0  # unnormalized
    hands = np.asarray(hanabi_likelihood.sample_hands(
        jax.random.PRNGKey(1), jnp.asarray(belief).reshape(1, 3, 5),
        jnp.array([[True, False, True]]), num_samples=2))
    assert hands.shape == (2, 1, 3) and (hands[:, 0, 1] == -1).all()
    assert (hands[:, 0, 0] != 1).all() and (hands[:, 0, 2] != 4).all()
