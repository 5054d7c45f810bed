"""The exact joint belief of two-card Hanabi against brute-force Bayes over every joint hand."""

import itertools

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

SMALL = make_config("small")
CANDIDATES = np.array(list(itertools.product(range(SMALL.num_values), repeat=4)))  # a0 a1 b0 b1


def _brute_force(card_knowledge, counts, log_evidence):
    """(marginals [2, 2, values], joints [2, values, values]) by enumerating all four cards.

    `log_evidence` [len(CANDIDATES)] is each candidate's log-likelihood. A candidate's prior is the
    number of ways to draw its cards from `counts` (falling factorials per value) when the hint
    masks allow them; an empty slot holds the placeholder 0 and draws nothing.
    """
    values = SMALL.num_values
    knowledge = np.asarray(card_knowledge).reshape(4, values)
    valid = knowledge.any(-1)
    log_weight = np.array(log_evidence, np.float64)
    for row, cards in enumerate(CANDIDATES):
        allowed = all(knowledge[k, x] if valid[k] else x == 0 for k, x in enumerate(cards))
        held = np.bincount(cards[valid], minlength=values)
        ways = np.prod([np.prod(counts[v] - np.arange(n)) for v, n in enumerate(held)])
        log_weight[row] += np.log(ways) if allowed and ways > 0 else -np.inf
    posterior = np.exp(log_weight - log_weight.max())
    posterior = (posterior / posterior.sum()).reshape((values,) * 4)
    joints = np.stack([posterior.sum((2, 3)), posterior.sum((0, 1))])
    marginals = np.stack([[posterior.sum((1, 2, 3)), posterior.sum((0, 2, 3))],
                          [posterior.sum((0, 1, 3)), posterior.sum((0, 1, 2))]])
    return np.where(valid.reshape(2, 2, 1), marginals, 0.0), joints


@pytest.mark.parametrize("empty", [None, (1, 1), (0, 1)])
def test_marginals_and_joints_equal_enumeration(empty):
    rng = np.random.default_rng(0)
    copies = np.array([SMALL.copies_of_rank(v % SMALL.ranks) for v in range(SMALL.num_values)])
    counts = np.maximum(copies - rng.integers(0, 2, SMALL.num_values), 0)
    knowledge = rng.random((2, 2, SMALL.num_values)) < 0.7
    knowledge[..., 0] = True  # no slot is left without a possible value
    if empty:
        knowledge[empty] = False
    log_likelihood = rng.normal(size=(2, SMALL.num_values, SMALL.num_values)) * 2
    evidence = (log_likelihood[0][CANDIDATES[:, 0], CANDIDATES[:, 1]]
                + log_likelihood[1][CANDIDATES[:, 2], CANDIDATES[:, 3]])
    expected_marginals, expected_joints = _brute_force(knowledge, counts, evidence)
    marginals, joints = hanabi_exact_belief.exact_belief(
        jnp.asarray(knowledge), jnp.asarray(counts), jnp.asarray(log_likelihood, jnp.float32))
    np.testing.assert_allclose(marginals, expected_marginals, atol=2e-6)
    np.testing.assert_allclose(joints, expected_joints, atol=2e-6)


def _partner_likelihoods(agent, params, public_input, legal, valid, action):
    """[values, values]: the floored probability of `action` for every partner hand, each by a
    whole forward pass (`policy_logits`) on that hand."""
    values = jnp.arange(agent.game.num_values)
    hands = jnp.where(valid, jnp.stack(jnp.meshgrid(values, values, indexing="ij"), -1), -1)

    def probability(hand):
        logits = hanabi_network.policy_logits(agent, params["policy"], public_input, hand[None])
        hand_legal = hanabi_likelihood.hand_legal_actions(agent.game, legal, hand[None])
        return jax.nn.softmax(jnp.where(hand_legal, logits, -jnp.inf))[action]

    floor = agent.likelihood_floor
    return floor + (1 - floor) * jax.vmap(jax.vmap(probability))(hands)


def test_tracked_belief_is_the_exact_posterior_along_a_game():
    """Along a game of a random agent (three lives, so that it lasts), the tracked belief equals
    Bayes over every joint hand given all the moves so far, each move's likelihood recomputed by
    whole forward passes on the partner's hand as it was then (cards since played or discarded
    at their revealed values)."""
    game = make_config({"preset": "small", "max_life_tokens": 3})
    agent = AgentConfig(game, hidden_sizes=(32,), exact_belief=True, min_log_likelihood=-1e4)
    params = hanabi_network.init_params(agent, jax.random.PRNGKey(0))
    params["policy"]["layers"][-1]["w"] *= 300.0  # sharp enough for informative likelihoods
    act = jax.jit(lambda o, ll, k: hanabi_agent.act(agent, params, o, ll, k))
    belief_of = jax.jit(lambda o, ll: hanabi_agent.public_view(agent, o, ll)[0].marginals)
    likelihoods = jax.jit(lambda *args: _partner_likelihoods(agent, params, *args))

    state = hanabi_jax.reset(game, jax.random.PRNGKey(4))
    log_likelihood = hanabi_agent.initial_evidence(agent)
    ids = [[0, 1], [2, 3]]  # each slot's card, by order of dealing
    revealed, history, next_id = {}, [], 4
    for move in range(24):
        observation = hanabi_agent.observation_from_state(game, state)
        # Brute force: each candidate gives the cards in hand now; earlier partner hands mix
        # those with revealed cards.
        slot_of = {card: 2 * seat + slot
                   for seat in range(2) for slot, card in enumerate(ids[seat])}
        evidence = np.zeros(len(CANDIDATES))
        for table, partner_ids in history:
            cards = [CANDIDATES[:, slot_of[c]] if c in slot_of else np.full(len(CANDIDATES),
                                                                          revealed.get(c, 0))
                     for c in partner_ids + [None] * (2 - len(partner_ids))]
            evidence += np.log(table[cards[0], cards[1]])
        expected, _ = _brute_force(observation.card_knowledge, np.asarray(
            observation.remaining_counts), evidence)
        np.testing.assert_allclose(belief_of(observation, log_likelihood), expected, atol=1e-4,
                                   err_msg=f"move {move}")

        decision, next_log_likelihood = act(observation, log_likelihood,
                                            jax.random.PRNGKey(100 + move))
        actor = int(observation.current_player)
        partner = 1 - actor
        table = likelihoods(decision.public_input, observation.legal_actions,
                            observation.partner_hands[0] >= 0, decision.action)
        history.append((np.asarray(table, np.float64), list(ids[partner])))
        state, _, done, _ = hanabi_jax.step(game, state, decision.action)
        log_likelihood = next_log_likelihood

        kind = hanabi_jax.decode_action(game, decision.action)
        read = hanabi_rules.last_removed_card(
            game, hanabi_agent.observation_from_state(game, state).public_observation,
            public=True)
        assert bool(read[0]) == bool(kind.is_play | kind.is_discard)
        if bool(read[0]):
            slot = int(kind.slot)
            assert (int(read[1]), int(read[2]), int(read[3])) == (1, slot, int(state.last_card))
            revealed[ids[actor].pop(slot)] = int(state.last_card)
            if int(state.hands[actor, -1]) >= 0:
                ids[actor].append(next_id)
                next_id += 1
        if bool(done):
            break
    assert move >= 8 and len(revealed) >= 3, (move, len(revealed))


def test_settings_it_does_not_support_are_refused():
    with pytest.raises(ValueError, match="2 players with 2-card hands"):
        AgentConfig(make_config("full"), exact_belief=True)
    with pytest.raises(ValueError, match="method 'bad'"):
        AgentConfig(SMALL, method="ippo", exact_belief=True)
    with pytest.raises(ValueError, match="likelihood_samples"):
        AgentConfig(SMALL, likelihood_samples=2, exact_belief=True)
