"""bad.matrix_game: exact scoring against OpenSpiel play, known policies and short training
runs."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from bad import belief, matrix_game, matrix_game_enumeration
from games import tiny_hanabi

THREE_PLAYERS = {"num_players": 3, "num_chance": 2, "num_actions": 2,
                 "payoff": tiny_hanabi.payoff_string(
                     np.random.default_rng(7).integers(0, 10, size=[2] * 6))}
THREE_CARDS = {"num_players": 2, "num_chance": 3, "num_actions": 2,
               "payoff": tiny_hanabi.payoff_string(
                   np.random.default_rng(8).integers(0, 10, size=[3, 3, 2, 2]))}


def play_in_openspiel(game, probs, enum, rng, num_games):
    """Mean return of games played through pyspiel, sampling BAD's partial policies on the host."""
    players, cards = game.num_players, game.num_chance
    cdfs = [np.cumsum(p, axis=-1) for p in probs]
    sample = lambda cdf: int(min(np.searchsorted(cdf, rng.random(), side="right"), len(cdf) - 1))
    total = 0.0
    for _ in range(num_games):
        state = game.game.new_initial_state()
        dealt = []
        for _ in range(players):
            outcomes, weights = zip(*state.chance_outcomes())
            dealt.append(outcomes[sample(np.cumsum(weights))])
            state.apply_action(dealt[-1])
        history = 0
        for p in range(players):
            if p < players - 1:
                partial = [sample(cdfs[p][history * cards + c]) for c in range(cards)]
                action = partial[dealt[p]]
                mask = sum(1 << c for c in range(cards) if partial[c] == action)
                history = history * enum.num_codes + enum.code_of[action, mask]
            else:
                action = sample(cdfs[p][history * cards + dealt[p]])
            state.apply_action(action)
        total += state.returns()[0]
    return total / num_games


@functools.partial(jax.jit, static_argnums=2)
def policies_and_exact_value(key, arrays, config):
    """Freshly initialised policy tables and their exact value (one compilation, not many)."""
    params = matrix_game.init_params(key, arrays, config)
    return matrix_game.network_tables(params, arrays, config).logits, matrix_game.exact_value(
        params, arrays, config)


@pytest.mark.parametrize("params, method", [
    (None, "bad_cf"), (None, "pg"), (THREE_PLAYERS, "bad"), (THREE_CARDS, "bad_cf")])
def test_exact_value_matches_monte_carlo_play_through_openspiel(params, method):
    game = tiny_hanabi.TinyHanabi(params)
    arrays = matrix_game.game_arrays(game)
    config = matrix_game.Config(method=method, policy_init_scale=3.0)
    logits, exact = policies_and_exact_value(jax.random.key(3), arrays, config)
    probs = [np.asarray(jax.nn.softmax(table), np.float64) for table in logits]
    exact = float(exact)
    num_games = 4000
    estimate = play_in_openspiel(game, probs, matrix_game.enumeration(arrays, config),
                                 np.random.default_rng(0), num_games)
    spread = float(game.payoffs.max() - game.payoffs.min())
    assert abs(estimate - exact) < 4 * spread / 2 / np.sqrt(num_games), (estimate, exact)


def deterministic_logits(choice):
    return jnp.where(jax.nn.one_hot(choice, 3) > 0, 0.0, -1e9)


def best_response_logits(game, arrays, config, first):
    """Player 2's best reply, per (history code, card), to player 1's logit table `first`."""
    enum = matrix_game.enumeration(arrays, config)
    beliefs = belief.belief_update(arrays.chance_probs, jnp.asarray(enum.code_partials),
                                   jnp.asarray(enum.code_actions))
    replies = []
    for code in range(enum.num_codes):
        for card in range(game.num_chance):
            expected = np.einsum("c,ca->a", beliefs[code],
                                 game.payoffs[:, card, enum.code_actions[code], :])
            replies.append(int(np.argmax(expected)))
    return deterministic_logits(jnp.array(replies))


def openspiel_value(game, first_actions, second):
    """Average return over all deals of deterministic policies, played in pyspiel."""
    returns = []
    for c1 in range(2):
        for c2 in range(2):
            state = game.game.new_initial_state()
            state.apply_action(c1)
            state.apply_action(c2)
            a1 = first_actions[c1]
            state.apply_action(a1)
            state.apply_action(second(c1, c2, a1))
            returns.append(state.returns()[0])
    return float(np.mean(returns))


def test_hand_written_optimal_policy_scores_ten():
    game = tiny_hanabi.TinyHanabi()
    arrays = matrix_game.game_arrays(game)
    config = matrix_game.Config(method="bad_cf")
    first = deterministic_logits(jnp.array([2, 0]))
    second = best_response_logits(game, arrays, config, first)
    value = matrix_game.exact_value_of_tables((first, second), arrays, config)
    np.testing.assert_allclose(value, 10.0, rtol=1e-6)
    # The same policy played in OpenSpiel: player 2 decodes player 1's card from its action.
    decode = {2: 0, 0: 1}
    reply = lambda c1, c2, a1: int(np.argmax(game.payoffs[decode[a1], c2, a1]))
    assert openspiel_value(game, [2, 0], reply) == 10.0


def test_always_middle_scores_eight():
    game = tiny_hanabi.TinyHanabi()
    arrays = matrix_game.game_arrays(game)
    config = matrix_game.Config(method="pg")
    rows = matrix_game.enumeration(arrays, config).num_codes * game.num_chance
    value = matrix_game.exact_value_of_tables(
        (deterministic_logits(jnp.array([1, 1])), deterministic_logits(jnp.ones(rows, int))),
        arrays, config)
    np.testing.assert_allclose(value, 8.0, rtol=1e-6)
    assert openspiel_value(game, [1, 1], lambda c1, c2, a1: 1) == 8.0


def test_short_run_improves_and_is_deterministic():
    arrays = matrix_game.game_arrays(tiny_hanabi.TinyHanabi())
    config = matrix_game.Config(method="bad_cf", num_updates=300, eval_every=100)
    keys = jax.random.split(jax.random.key(42), 4)
    first = matrix_game.train_seeds(keys, arrays, config)
    second = matrix_game.train_seeds(keys, arrays, config)
    assert first.exact_reward.shape == (4, 4) and first.train_reward.shape == (4, 3)
    final, initial = (float(jnp.mean(first.exact_reward[:, i])) for i in (-1, 0))
    assert final > initial + 1
    np.testing.assert_array_equal(first.exact_reward, second.exact_reward)
    for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(second.params)):
        np.testing.assert_array_equal(a, b)


def test_bad_configs_and_oversized_games_raise_value_errors():
    with pytest.raises(ValueError, match="unknown method"):
        matrix_game.Config(method="sad")
    with pytest.raises(ValueError, match="must divide"):
        matrix_game.Config(num_updates=100, eval_every=30)
    with pytest.raises(ValueError, match="batch_size must be positive"):
        matrix_game.Config(batch_size=0)
    with pytest.raises(ValueError, match="games to score exactly"):
        matrix_game_enumeration.enumerate_game(3, 4, 4, True)


def per_game_loss(params, arrays, config, uniform, entropy_cost, inverse_cdf):
    """The per-game REINFORCE loss, averaged over games, played one game at a time.

    Independent of the tables and sums of `bad.matrix_game`: each network is applied to each
    game's own input vector, and the choices use the same uniform draws as `sample_batch`
    (the deal, one per card of each partial policy, the last action), through
    `inverse_cdf(uniform, probs) -> int`.
    """
    players, cards_n, actions_n = arrays.num_players, arrays.num_chance, arrays.num_actions
    mlp = lambda p, x: jax.nn.relu(x @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]
    prior = np.asarray(arrays.chance_probs)
    total = 0.0
    for u in np.asarray(uniform):
        cards = [inverse_cdf(u[p], prior) for p in range(players)]
        public, actions, terms = [], [], []
        for p in range(players):
            def logits(card, p=p, public=tuple(public)):
                if p == 0:
                    return params["policy"][0][card]
                return mlp(params["policy"][p], jnp.concatenate(
                    list(public) + [jax.nn.one_hot(card, cards_n)]))
            own = jnp.concatenate(list(public) + [jax.nn.one_hot(cards[p], cards_n)])
            baseline = mlp(params["baseline"][p], own)[0]
            log_probs = {c: jax.nn.log_softmax(logits(c)) for c in range(cards_n)}
            if p < players - 1:
                partial = [inverse_cdf(u[players + p * cards_n + c], jnp.exp(log_probs[c]))
                           for c in range(cards_n)]
                action = partial[cards[p]]
                log_prob = (sum(log_probs[c][partial[c]] for c in range(cards_n))
                            if config.counterfactual else log_probs[cards[p]][action])
                consistent = prior * (np.array(partial) == action)
                features = [jax.nn.one_hot(action, actions_n)]
                if config.uses_belief:
                    features.append(jnp.asarray(consistent / consistent.sum(), jnp.float32))
                public.append(jnp.concatenate(features))
            else:
                action = inverse_cdf(u[-1], jnp.exp(log_probs[cards[p]]))
                log_prob = log_probs[cards[p]][action]
            entropy = -jnp.sum(jnp.exp(log_probs[cards[p]]) * log_probs[cards[p]])
            actions.append(action)
            terms.append((log_prob, baseline, entropy))
        reward = arrays.payoffs[tuple(cards + actions)]
        for log_prob, baseline, entropy in terms:
            total += (-log_prob * jax.lax.stop_gradient(reward - baseline)
                      + (reward - baseline) ** 2 / 2 - entropy_cost * entropy)
    return total / len(uniform)


@pytest.mark.parametrize("params, method", [
    (None, "bad_cf"), (None, "bad"), (None, "pg"), (THREE_PLAYERS, "bad_cf")])
def test_gradient_over_tables_equals_per_game_reinforce_gradient(params, method):
    arrays = matrix_game.game_arrays(tiny_hanabi.TinyHanabi(params))
    config = matrix_game.Config(method=method, batch_size=12)
    weights = matrix_game.init_params(jax.random.key(5), arrays, config)
    key, entropy_cost = jax.random.key(6), 0.3
    tables, backprop = jax.vjp(lambda p: matrix_game.network_tables(p, arrays, config), weights)
    sums = matrix_game.sample_batch(key, tables, arrays, config)
    table_grads = jax.grad(matrix_game.table_loss)(tables, sums, config.batch_size, entropy_cost)
    uniform = matrix_game.batch_uniforms(key, arrays, config)
    choices = []  # Played once concretely, then replayed under `jax.grad`.
    record = lambda u, probs: choices.append(int(np.sum(u >= np.cumsum(probs)[:-1]))) or choices[-1]
    per_game_loss(weights, arrays, config, uniform, entropy_cost, record)
    replay = iter(choices)
    expected = jax.grad(per_game_loss)(weights, arrays, config, uniform, entropy_cost,
                                       lambda u, probs: next(replay))
    for got, want in zip(jax.tree.leaves(backprop(table_grads)[0]), jax.tree.leaves(expected)):
        np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-5)
