"""The BAD agent's rank-one counterfactuals, their legal actions, the likelihood tracking and the
decision step."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bad.hanabi import agent as hanabi_agent
from bad.hanabi import belief as hanabi_belief
from bad.hanabi import likelihood as hanabi_likelihood
from bad.hanabi import network as hanabi_network
from bad.hanabi.agent import AgentConfig
from games.hanabi import jax_game as hanabi_jax
from games.hanabi import rules as hanabi_rules
from games.hanabi.config import make_config
from games.hanabi.layout import observation_layout

GAMES = {"full": "full", "small_3p": {"preset": "small", "players": 3}}


def _changed_hands(game, hands):
    """[partners, hand_size, values, partners, hand_size]: `hands` with one slot changed."""
    rows = []
    for partner in range(game.players - 1):
        for slot in range(game.hand_size):
            for value in range(game.num_values):
                rows.append(hands.at[partner, slot].set(value))
    return jnp.stack(rows).reshape(game.players - 1, game.hand_size, game.num_values,
                                   *hands.shape)


def _random_hands(config, key):
    game = config.game
    hands = jax.random.randint(key, (game.players - 1, game.hand_size), 0, game.num_values)
    return hands.at[-1, -1].set(-1)  # an empty slot, as in the final round


def _with_fireworks(game, public_input, fireworks):
    """`public_input` with its fireworks bits set to `fireworks` [colors] (so some cards are
    playable and some already played)."""
    layout = observation_layout(game)
    bits = (np.arange(1, game.ranks + 1) == np.asarray(fireworks)[:, None]).astype(np.float32)
    return public_input.at[layout.in_public(layout.fireworks)].set(bits.reshape(-1))


def _status_by_rules(game, fireworks, discards):
    """[values, 3]: playable, dead, critical, by the rules, one card at a time."""
    rows = []
    for value in range(game.num_values):
        color, rank = divmod(value, game.ranks)
        left = lambda r, color=color: game.copies_of_rank(r) - discards[color * game.ranks + r]
        dead = rank < fireworks[color] or any(left(r) == 0 for r in range(fireworks[color], rank))
        rows.append([rank == fireworks[color], dead, not dead and left(rank) == 1])
    return np.array(rows, np.float32)


@pytest.mark.parametrize("name", GAMES)
def test_fireworks_discards_and_card_status_are_read_from_the_public_observation(name):
    game = make_config(GAMES[name])
    rng = np.random.default_rng(4)
    state = hanabi_jax.reset(game, jax.random.PRNGKey(4))
    for _ in range(5):
        fireworks = rng.integers(0, game.ranks + 1, game.colors)
        discards = np.array([rng.integers(0, game.copies_of_rank(v % game.ranks) + 1)
                             for v in range(game.num_values)])
        state = state._replace(fireworks=jnp.asarray(fireworks, jnp.int8),
                               discards=jnp.asarray(discards, jnp.int8))
        public = hanabi_jax.public_observation(game, state, state.current_player)
        config = AgentConfig(game)
        np.testing.assert_array_equal(
            hanabi_rules.fireworks_from_observation(game, public, public=True), fireworks)
        np.testing.assert_array_equal(
            hanabi_rules.discards_from_observation(game, public, public=True), discards)
        np.testing.assert_array_equal(hanabi_network.card_status_of(config, public),
                                      _status_by_rules(game, fireworks, discards))


@pytest.mark.parametrize("name", GAMES)
def test_rank_one_logits_equal_whole_forward_passes(name):
    config = AgentConfig(make_config(GAMES[name]), hidden_sizes=(32, 16))
    params_key, input_key, hands_key = jax.random.split(jax.random.PRNGKey(0), 3)
    policy = hanabi_network.init_params(config, params_key)["policy"]
    policy["layers"][-1]["w"] = policy["layers"][-1]["w"] * 100.0  # logits of order one
    public_input = jax.random.uniform(input_key, (config.public_input_size,))
    public_input = _with_fireworks(config.game, public_input, np.arange(config.game.colors) % 3)
    hands = _random_hands(config, hands_key)
    fast = hanabi_network.counterfactual_logits(config, policy, public_input, hands)
    changed = _changed_hands(config.game, hands)
    forward = jax.jit(jax.vmap(lambda h: hanabi_network.policy_logits(config, policy, public_input,
                                                                     h)))
    slow = forward(changed.reshape(-1, *hands.shape)).reshape(fast.shape)
    np.testing.assert_allclose(fast, slow, rtol=1e-4, atol=1e-4)


def test_hands_logits_share_the_public_part_and_equal_separate_passes():
    config = AgentConfig(make_config(GAMES["full"]), hidden_sizes=(32, 16))
    params_key, input_key, hands_key, other_key = jax.random.split(jax.random.PRNGKey(1), 4)
    policy = hanabi_network.init_params(config, params_key)["policy"]
    public_input = jax.random.uniform(input_key, (config.public_input_size,))
    hands = [_random_hands(config, hands_key), _random_hands(config, other_key)]

    def total(policy, logits_of):
        return sum(jnp.sum(jnp.sin(logits)) for logits in logits_of(policy))

    def together(policy):
        return hanabi_network.hands_logits(config, policy, public_input, hands)

    def apart(policy):
        return [hanabi_network.policy_logits(config, policy, public_input, h) for h in hands]

    np.testing.assert_allclose(together(policy), apart(policy), rtol=1e-6, atol=1e-6)
    shared, separate = (jax.grad(total)(policy, f) for f in (together, apart))
    chex.assert_trees_all_close(shared, separate, rtol=1e-5, atol=1e-6)


def test_critic_value_equals_the_mlp_on_the_concatenated_input():
    """The critic's first layer, read as one product per input part, against the plain MLP on
    `[public_input, one-hot hands]` (values and gradients)."""
    config = AgentConfig(make_config({"preset": "full", "players": 3}), hidden_sizes=(32, 16))
    params_key, input_key, hands_key = jax.random.split(jax.random.PRNGKey(2), 3)
    critic = hanabi_network.init_params(config, params_key)["critic"]
    public_input = jax.random.uniform(input_key, (config.public_input_size,))
    hands = jax.random.randint(hands_key, (config.game.players, config.game.hand_size), -1,
                               config.game.num_values)

    def plain(critic):
        x = jnp.concatenate([public_input, hanabi_network.one_hot_hands(config, hands)])
        return hanabi_network.apply_layers(critic, x)[0]

    def split(critic):
        return hanabi_network.critic_value(config, critic, public_input, hands)

    np.testing.assert_allclose(split(critic), plain(critic), rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_close(jax.grad(split)(critic), jax.grad(plain)(critic),
                                rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", GAMES)
def test_counterfactual_legal_actions_match_the_rules(name):
    config = AgentConfig(make_config(GAMES[name]))
    game = config.game
    state = hanabi_jax.reset(game, jax.random.PRNGKey(3))
    state = state._replace(information_tokens=jnp.int8(1))
    hands = np.asarray(state.hands[1:], np.int32)
    fast = hanabi_likelihood.counterfactual_legal_actions(
        game, hanabi_jax.legal_actions_mask(game, state), jnp.asarray(hands))
    changed = _changed_hands(game, jnp.asarray(hands, jnp.int8))
    changed = jnp.concatenate([jnp.broadcast_to(state.hands[:1], (*changed.shape[:3], 1,
                                                                  game.hand_size)), changed], 3)
    legal = jax.jit(jax.vmap(lambda h: hanabi_jax.legal_actions_mask(
        game, state._replace(hands=h))))
    expected = legal(changed.reshape(-1, game.players, game.hand_size)).reshape(fast.shape)
    np.testing.assert_array_equal(fast, expected)
    np.testing.assert_array_equal(
        hanabi_likelihood.hand_legal_actions(game, hanabi_jax.legal_actions_mask(game, state),
                                        jnp.asarray(hands)),
        hanabi_jax.legal_actions_mask(game, state))


@pytest.mark.parametrize("name", GAMES)
def test_partner_log_likelihood_averages_whole_forward_passes_over_the_samples(name):
    """log(floor + (1 - floor) * mean over samples of P(u | sample with slot i set to v)), each
    probability from a whole forward pass on that hand and its own legal actions."""
    config = AgentConfig(make_config(GAMES[name]), hidden_sizes=(32,), likelihood_samples=3)
    game = config.game
    params_key, input_key, *sample_keys = jax.random.split(jax.random.PRNGKey(1), 5)
    policy = hanabi_network.init_params(config, params_key)["policy"]
    policy["layers"][-1]["w"] = policy["layers"][-1]["w"] * 100.0
    public_input = jax.random.uniform(input_key, (config.public_input_size,))
    state = hanabi_jax.reset(game, jax.random.PRNGKey(2))
    legal = hanabi_jax.legal_actions_mask(game, state)
    samples = jnp.stack([_random_hands(config, key) for key in sample_keys])
    action = jnp.asarray(2 * game.hand_size + 1)  # a color hint: its legality varies by hand

    def probability(hand):
        logits = hanabi_network.policy_logits(config, policy, public_input, hand)
        legal_here = hanabi_likelihood.hand_legal_actions(game, legal, hand)
        return jax.nn.softmax(jnp.where(legal_here, logits, -1e9))[action]

    per_sample = [jax.vmap(probability)(_changed_hands(game, sample).reshape(-1, *sample.shape))
                  for sample in samples]
    mean = np.mean(per_sample, axis=0).reshape(game.players - 1, game.hand_size, -1)
    floor = config.likelihood_floor
    expected = np.where((samples[0] >= 0)[..., None], np.log(floor + (1 - floor) * mean), 0.0)
    fast = hanabi_likelihood.partner_log_likelihood(config, policy, public_input, legal, samples,
                                               action)
    np.testing.assert_allclose(fast, expected, rtol=1e-4, atol=1e-5)
    single = hanabi_likelihood.partner_log_likelihood(config, policy, public_input, legal,
                                                 samples[:1], action)
    assert not np.allclose(single, fast, atol=1e-3)  # the other samples do count


def test_likelihood_follows_cards_and_resets_for_new_ones():
    config = AgentConfig(make_config("very_small"))
    game = config.game
    log_likelihood = hanabi_agent.initial_evidence(config)
    evidence = jnp.log(jnp.array([[[0.5, 1.0, 0.25, 1.0, 1.0], [1.0, 0.1, 1.0, 1.0, 1.0]]]))
    color_hint = 2 * game.hand_size  # seat 0 hints: its own cards stay where they are
    log_likelihood = hanabi_likelihood.track_likelihood(config, log_likelihood, 0, evidence,
                                                   color_hint)
    np.testing.assert_allclose(log_likelihood[1], evidence[0], atol=1e-6)
    # Seat 1 plays its slot 0: the card in slot 1 moves to slot 0, slot 1 is a new card.
    play_slot_0 = game.hand_size
    moved = hanabi_likelihood.track_likelihood(config, log_likelihood, 1, jnp.zeros((1, 2, 5)),
                                          play_slot_0)
    np.testing.assert_allclose(moved[1, 0], evidence[0, 1], atol=1e-6)
    np.testing.assert_array_equal(moved[1, 1], 0.0)
    np.testing.assert_allclose(moved[0], 0.0)


def test_act_is_deterministic_given_the_key_and_legal():
    config = AgentConfig(make_config("small"), hidden_sizes=(32,))
    game = config.game
    params = hanabi_network.init_params(config, jax.random.PRNGKey(0))
    state = hanabi_jax.reset(game, jax.random.PRNGKey(1))
    observation = hanabi_agent.observation_from_state(game, state)
    ll = hanabi_agent.initial_evidence(config)
    first, _ = hanabi_agent.act(config, params, observation, ll, jax.random.PRNGKey(5))
    second, _ = hanabi_agent.act(config, params, observation, ll, jax.random.PRNGKey(5))
    assert int(first.action) == int(second.action)
    assert bool(observation.legal_actions[first.action])
    # The partial policy maps the real hands to the real action, whichever the hands.
    assert first.sample_hands.shape == (1, game.players - 1, game.hand_size)
    sample_legal = hanabi_likelihood.hand_legal_actions(game, observation.legal_actions,
                                                        first.sample_hands[0])
    again, _ = hanabi_agent.act(config, params, observation._replace(
        partner_hands=first.sample_hands[0], legal_actions=sample_legal), ll,
        jax.random.PRNGKey(5))
    if bool(jnp.all(again.sample_hands == first.sample_hands)):
        assert int(again.action) == int(first.sample_action[0])
    np.testing.assert_allclose(first.belief.sum(-1)[state.hands >= 0], 1.0, rtol=1e-5)


def test_greedy_act_plays_the_most_likely_legal_action():
    config = AgentConfig(make_config("small"), hidden_sizes=(32,))
    params = hanabi_network.init_params(config, jax.random.PRNGKey(0))
    observation = hanabi_agent.observation_from_state(config.game,
                                       hanabi_jax.reset(config.game, jax.random.PRNGKey(2)))
    ll = hanabi_agent.initial_evidence(config)
    logits = hanabi_network.policy_logits(config, params["policy"],
                                          hanabi_agent.act(config, params, observation, ll,
                                                           jax.random.PRNGKey(0))[0].public_input,
                                          observation.partner_hands)
    best = int(jnp.argmax(jnp.where(observation.legal_actions, logits, -jnp.inf)))
    for seed in range(3):
        decision, _ = hanabi_agent.act(config, params, observation, ll,
                                       jax.random.PRNGKey(seed), greedy=True)
        assert int(decision.action) == best


def test_v2_alpha_mixes_bb_with_v1():
    """With `v2_alpha` the agent's belief is V2 = (1 - a) BB + a V1 of the same public facts."""
    game = make_config("small")
    state = hanabi_jax.reset(game, jax.random.PRNGKey(3))
    observation = hanabi_agent.observation_from_state(game, state)
    log_likelihood = jax.random.uniform(jax.random.PRNGKey(4),
                                        hanabi_agent.initial_evidence(AgentConfig(game))
                                        .shape,
                                        minval=-5.0, maxval=0.0)
    bb = hanabi_agent.public_view(AgentConfig(game), observation, log_likelihood)[0].marginals
    v2 = hanabi_agent.public_view(AgentConfig(game, v2_alpha=0.1), observation,
                                  log_likelihood)[0].marginals
    v1 = hanabi_belief.v1_belief(observation.card_knowledge, observation.remaining_counts)
    np.testing.assert_allclose(v2, 0.9 * bb + 0.1 * v1, rtol=1e-5, atol=1e-7)
    assert not np.allclose(bb, v1, atol=1e-3)  # the likelihoods did change the belief


def test_an_observation_of_another_game_is_refused_before_any_work():
    small = AgentConfig(make_config("small"), hidden_sizes=(16,))
    full_game = make_config("full")
    observation = hanabi_agent.observation_from_state(
        full_game, hanabi_jax.reset(full_game, jax.random.PRNGKey(0)))
    params = hanabi_network.init_params(small, jax.random.PRNGKey(1))
    with pytest.raises(AssertionError, match="shape"):
        hanabi_agent.act(small, params, observation, hanabi_agent.initial_evidence(small),
                         jax.random.PRNGKey(2))


@pytest.mark.parametrize("agent", [
    AgentConfig(make_config("small"), hidden_sizes=(16,), likelihood_samples=2),
    AgentConfig(make_config("small"), hidden_sizes=(16,), exact_belief=True),
    AgentConfig(make_config("small"), method="ippo", hidden_sizes=(16,))],
    ids=["bb", "exact", "ippo"])
def test_each_player_tracks_the_same_evidence_as_self_play(agent):
    """Along a game, every seat computes its own public context and observes each move played;
    its evidence equals `act`'s, and only the actor's private view enters `decide`."""
    game = agent.game
    params = hanabi_network.init_params(agent, jax.random.PRNGKey(0))
    act = jax.jit(lambda o, e, k: hanabi_agent.act(agent, params, o, e, k))
    context_of = jax.jit(lambda o, e, k: hanabi_agent.public_context(agent, o, e, k))
    observe = jax.jit(lambda c, o, a: hanabi_agent.observe(agent, params, c, o, a))
    state = hanabi_jax.reset(game, jax.random.PRNGKey(3))
    self_play = hanabi_agent.initial_evidence(agent)
    seats = [self_play] * game.players
    for move in range(12):
        observation = hanabi_agent.observation_from_state(game, state)
        key = jax.random.PRNGKey(50 + move)
        decision, self_play = act(observation, self_play, key)
        public_only = observation._replace(partner_hands=jnp.full_like(
            observation.partner_hands, -1))
        seats = [observe(context_of(public_only, evidence, key), public_only, decision.action)
                 for evidence in seats]
        for evidence in seats:
            np.testing.assert_array_equal(evidence, self_play)
        state, _, done, _ = hanabi_jax.step(game, state, decision.action)
        if bool(done):
            break
