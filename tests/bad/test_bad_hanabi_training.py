"""A short fixed-seed BAD run learns and repeats itself; its agent plays alike in JAX and
OpenSpiel."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from bad.hanabi import evaluation as hanabi_evaluation
from bad.hanabi import learner as hanabi_learner
from bad.hanabi.agent import AgentConfig
from games.hanabi import HanabiGame, random_decks
from games.hanabi.config import make_config

CONFIG = hanabi_learner.TrainConfig(
    agent=AgentConfig(make_config("very_small"), method="bad", hidden_sizes=(64,)),
    num_envs=64, rollout_length=16, learning_rate=1e-3)
UPDATES = 10


@pytest.fixture(scope="module")
def trained():
    """(initial state, metrics of two chunks of updates, final state)."""
    initial = hanabi_learner.init_train_state(CONFIG, jax.random.PRNGKey(0))
    middle, first = hanabi_learner.train_updates(CONFIG, initial, UPDATES)
    final, second = hanabi_learner.train_updates(CONFIG, middle, UPDATES)
    return initial, middle, jax.device_get((first, second)), final


def test_short_run_raises_the_mean_score(trained):
    _, _, (first, second), _ = trained
    early = np.sum(first["mean_score"][:3] * first["games_finished"][:3]) / np.sum(
        first["games_finished"][:3])
    late = np.sum(second["mean_score"][-3:] * second["games_finished"][-3:]) / np.sum(
        second["games_finished"][-3:])
    assert late > early + 0.05, (early, late)
    assert np.all(np.isfinite(second["belief_cross_entropy"]))


def test_same_seed_same_numbers(trained):
    _, middle, (_, second), final = trained
    again, metrics = hanabi_learner.train_updates(CONFIG, middle, UPDATES)
    for name, values in jax.device_get(metrics).items():
        np.testing.assert_array_equal(values, second[name], err_msg=name)
    for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(final)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("greedy, exact_belief", [(False, False), (True, False), (False, True)])
def test_jax_and_open_spiel_play_the_same_games(trained, greedy, exact_belief):
    """Same deals and keys: equal scores, game lengths and belief cross-entropies, game by game
    (the exact belief reads each revealed card from the observations of either path)."""
    _, _, _, final = trained
    config = dataclasses.replace(CONFIG.agent, exact_belief=exact_belief)
    num_games = 32
    decks = random_decks(config.game, num_games, np.random.default_rng(7))
    key = jax.random.PRNGKey(11)
    in_jax = hanabi_evaluation.play_jax(config, final.params, decks, key, greedy)
    through_open_spiel = hanabi_evaluation.play_open_spiel(
        config, final.params, HanabiGame(config.game, num_games, 0), decks, key, greedy)
    np.testing.assert_array_equal(in_jax.scores, through_open_spiel.scores)
    np.testing.assert_array_equal(in_jax.moves, through_open_spiel.moves)
    np.testing.assert_allclose(in_jax.cross_entropy_sums, through_open_spiel.cross_entropy_sums,
                               rtol=1e-6)
    np.testing.assert_allclose(in_jax.playable_bins, through_open_spiel.playable_bins, rtol=1e-5)
    # Every own card of the acting player at every decision is in one bin.
    hand = config.game.hand_size
    assert in_jax.playable_bins[..., 0].sum() <= hand * in_jax.moves.sum()
    assert in_jax.playable_bins[..., 0].sum() >= hand * in_jax.moves.sum() - 2 * num_games
    assert in_jax.scores.max() > 0  # the comparison is not between all-zero score lists


def test_learn_steps_through_one_permutation_of_the_rollout_per_epoch():
    """`learn` equals its PPO steps taken one by one: per epoch, one permutation of the
    rollout's steps cut into consecutive minibatches, each one gradient step of `ppo_loss`."""
    config = CONFIG
    state = hanabi_learner.init_train_state(config, jax.random.PRNGKey(2))
    after, transitions = jax.jit(functools.partial(hanabi_learner.rollout, config))(state)
    learned, _ = jax.jit(functools.partial(hanabi_learner.learn, config))(after, transitions)

    # Each piece jitted on its own (op by op they compile one small program per primitive).
    last_value = jax.jit(hanabi_learner.bootstrap_value, static_argnums=0)(
        config.agent, after.params, after.games, after.log_likelihood)
    advantages, targets = jax.jit(hanabi_learner.gae, static_argnums=0)(config, transitions,
                                                                        last_value)
    flat = jax.tree.map(lambda x: np.asarray(x).reshape(config.steps_per_update, *x.shape[2:]),
                        (transitions, advantages, targets))
    opt = hanabi_learner.optimizer(config)
    entropy_weight = hanabi_learner.annealed(config, config.entropy_weight,
                                             config.final_entropy_fraction, after.update)
    grad_fn = jax.jit(jax.grad(functools.partial(hanabi_learner.ppo_loss, config,
                                                 entropy_weight), has_aux=True))

    @jax.jit
    def optimizer_step(grads, opt_state, params):
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    params, opt_state = after.params, after.opt_state
    _, epochs_key = jax.random.split(after.key)
    for key in jax.random.split(epochs_key, config.num_epochs):
        order = np.asarray(jax.random.permutation(key, config.steps_per_update))
        for rows in order.reshape(config.num_minibatches, -1):
            grads, _ = grad_fn(params, *jax.tree.map(lambda x, r=rows: x[r], flat))
            params, opt_state = optimizer_step(grads, opt_state, params)
    for a, b in zip(jax.tree.leaves(learned.params), jax.tree.leaves(params)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
    assert not all(np.array_equal(a, b) for a, b in zip(jax.tree.leaves(after.params),
                                                        jax.tree.leaves(params)))


def test_minibatches_must_divide_the_rollout():
    with pytest.raises(ValueError, match=r"multiple of num_minibatches \(3\)"):
        dataclasses.replace(CONFIG, num_minibatches=3)


def test_annealed_falls_linearly_then_stays():
    config = dataclasses.replace(CONFIG, anneal_updates=4)
    values = [float(hanabi_learner.annealed(config, 2.0, 0.25, jnp.asarray(u))) for u in range(7)]
    np.testing.assert_allclose(values, [2.0, 1.625, 1.25, 0.875, 0.5, 0.5, 0.5], rtol=1e-6)
    constant = hanabi_learner.annealed(CONFIG, 2.0, 0.25, jnp.asarray(3))
    assert float(constant) == 2.0


def test_learning_rate_annealed_to_zero_freezes_the_parameters():
    """Annealed to 0 over one update: the first update moves the parameters, the second not."""
    config = dataclasses.replace(CONFIG, anneal_updates=1, final_learning_rate_fraction=0.0)
    state = hanabi_learner.init_train_state(config, jax.random.PRNGKey(1))
    first, _ = hanabi_learner.train_updates(config, state, 1)
    second, _ = hanabi_learner.train_updates(config, first, 1)
    moved = [not np.array_equal(a, b) for a, b in zip(jax.tree.leaves(state.params),
                                                       jax.tree.leaves(first.params))]
    assert any(moved)
    for a, b in zip(jax.tree.leaves(first.params), jax.tree.leaves(second.params)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_summary_names_the_agents_belief():
    bins = np.zeros((2, len(hanabi_evaluation.CALIBRATION_EDGES) - 1, 3))
    bins[0, 0] = [4, 0.2, 0]     # 4 cards at 0.05: none playable
    bins[1, 0] = [6, 0.4, 1]     # 6 more at 0.1 / 6: one playable
    bins[1, -1] = [10, 9.95, 9]  # 10 at 0.995: nine playable
    evaluation = hanabi_evaluation.Evaluation(
        scores=np.array([3, 5]), cross_entropy_sums=np.array([[4.0, 2.0, 1.0], [2.0, 2.0, 1.0]]),
        cards=np.array([2, 2]), moves=np.array([9, 9]), playable_bins=bins)
    bb = hanabi_evaluation.summarise(CONFIG.agent, evaluation)
    v2 = hanabi_evaluation.summarise(dataclasses.replace(CONFIG.agent, v2_alpha=0.1), evaluation)
    assert bb["cross_entropy_v0"] == 1.5 and bb["cross_entropy_bb"] == 0.5
    assert "cross_entropy_bb" not in v2 and v2["cross_entropy_v2"] == 0.5
    assert bb["mean_score"] == 4.0
    table = hanabi_evaluation.calibration_table(evaluation)
    assert [(row["low"], row["high"], row["cards"]) for row in table] == [(0.0, 0.1, 10),
                                                                          (0.99, 1.0, 10)]
    np.testing.assert_allclose([table[0]["mean_predicted"], table[0]["fraction_playable"]],
                               [0.06, 0.1])
    # (10 * |0.06 - 0.1| + 10 * |0.995 - 0.9|) / 20
    np.testing.assert_allclose(bb["playable_calibration_error_bb"], 0.0675)
