"""`games.hanabi.jax_game` beyond OpenSpiel parity: dealing, illegal actions, features, batching."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from games.hanabi import jax_game as hanabi_jax
from games.hanabi.config import make_config

FULL = make_config("full")
VERY_SMALL = make_config("very_small")
STEP = jax.jit(hanabi_jax.step, static_argnums=0)
LEGAL = jax.jit(hanabi_jax.legal_actions_mask, static_argnums=0)


def _tree_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


def _play_random(config, key, num_moves):
    """A game after up to `num_moves` random legal moves (stops at its end)."""
    state = hanabi_jax.reset(config, key)
    rng = np.random.default_rng(0)
    for _ in range(num_moves):
        legal = np.flatnonzero(LEGAL(config, state))
        if not len(legal):
            break
        state = STEP(config, state, int(rng.choice(legal)))[0]
    return state


def test_reset_deals_a_shuffled_deck_player_by_player():
    state = hanabi_jax.reset(FULL, jax.random.PRNGKey(3))
    deck = np.asarray(state.deck)
    np.testing.assert_array_equal(np.sort(deck), hanabi_jax.ordered_deck(FULL))
    np.testing.assert_array_equal(state.hands, deck[:10].reshape(2, 5))
    assert int(state.cards_dealt) == 10 and int(state.current_player) == 0
    again = hanabi_jax.reset(FULL, jax.random.PRNGKey(3))
    assert _tree_equal(state, again)
    other = hanabi_jax.reset(FULL, jax.random.PRNGKey(4))
    assert not np.array_equal(state.deck, other.deck)


def test_shuffle_is_uniform_per_position():
    keys = jax.random.split(jax.random.PRNGKey(0), 20_000)
    decks = np.asarray(jax.jit(jax.vmap(lambda k: hanabi_jax.shuffled_deck(VERY_SMALL, k)))(keys))
    expected = np.array([3, 2, 2, 2, 1]) / 10
    for position in (0, 5, 9):
        frequencies = np.bincount(decks[:, position], minlength=5) / len(decks)
        np.testing.assert_allclose(frequencies, expected, atol=0.015)


def test_hint_touching_no_card_is_illegal_and_a_flagged_no_op():
    deck = hanabi_jax.ordered_deck(FULL)  # player 1 holds red 3, 3, 4, 4, 5
    state = hanabi_jax.reset_from_deck(FULL, deck)
    mask = np.asarray(hanabi_jax.legal_actions_mask(FULL, state))
    hint_yellow, hint_rank_1, hint_rank_3 = 2 * 5 + 1, 2 * 5 + 5, 2 * 5 + 5 + 2
    assert not mask[hint_yellow] and not mask[hint_rank_1] and mask[hint_rank_3]
    for action in (hint_yellow, hint_rank_1, 0, -1, FULL.num_actions, 127):
        after, rewards, done, info = STEP(FULL, state, action)
        assert bool(info["illegal_action"]) and not bool(done)
        np.testing.assert_array_equal(rewards, [0.0, 0.0])
        assert _tree_equal(after, state)
    after, _, _, info = STEP(FULL, state, hint_rank_3)
    assert not bool(info["illegal_action"]) and int(after.information_tokens) == 7


def test_moves_after_the_end_are_illegal():
    state = _play_random(VERY_SMALL, jax.random.PRNGKey(1), 200)
    assert bool(state.done)
    assert not np.asarray(hanabi_jax.legal_actions_mask(VERY_SMALL, state)).any()
    after, rewards, done, info = STEP(VERY_SMALL, state, 5)
    assert bool(done) and bool(info["illegal_action"]) and _tree_equal(after, state)


def test_checked_step_names_the_action_and_the_legal_ones():
    state = hanabi_jax.reset_from_deck(FULL, hanabi_jax.ordered_deck(FULL))
    legal = r"legal actions: \[5, 6, 7, 8, 9, 10, 17, 18, 19\]"
    with pytest.raises(ValueError, match=r"action 11 is illegal.*" + legal):
        hanabi_jax.checked_step(FULL, state, 11)
    with pytest.raises(ValueError, match="action 20 is illegal"):
        hanabi_jax.checked_step(FULL, state, 20)
    checked = hanabi_jax.checked_step(FULL, state, 17)
    plain = hanabi_jax.step(FULL, state, 17)
    assert _tree_equal(checked, plain)


def test_invalid_parameters_raise_at_construction():
    with pytest.raises(ValueError, match="players"):
        make_config({"players": 6})
    with pytest.raises(ValueError, match="preset"):
        make_config("huge")


@pytest.mark.parametrize("spec", ["full", "small", {"preset": "full", "players": 4}])
def test_features_agree_with_the_observation_and_the_deck(spec):
    config = make_config(spec)
    state = _play_random(config, jax.random.PRNGKey(7), 25)
    knowledge = np.asarray(hanabi_jax.card_knowledge(config, state))
    assert knowledge.shape == (config.players, config.hand_size, config.num_values)
    np.testing.assert_array_equal(knowledge.any(-1), np.asarray(state.hands) >= 0)
    sizes = config.section_sizes
    start = config.observation_size - sizes["card_knowledge"]
    per_slot = config.num_values + config.colors + config.ranks
    for player in range(config.players):
        observation = np.asarray(hanabi_jax.observation(config, state, player))
        private = hanabi_jax.private_observation(config, state, player)
        public = hanabi_jax.public_observation(config, state, player)
        assert private.shape == (config.private_size,) and public.shape == (config.public_size,)
        np.testing.assert_array_equal(np.concatenate([private, public]), observation)
        section = observation[start:].reshape(config.players, config.hand_size, per_slot)
        seats = (player + np.arange(config.players)) % config.players
        np.testing.assert_array_equal(section[..., :config.num_values], knowledge[seats])
    unseen = np.concatenate([np.asarray(state.deck)[int(state.cards_dealt):],
                             np.asarray(state.hands).reshape(-1)])
    expected = np.bincount(unseen[unseen >= 0], minlength=config.num_values)
    np.testing.assert_array_equal(hanabi_jax.remaining_counts(config, state), expected)


def test_auto_reset_step_reports_the_finished_game_and_deals_a_new_one():
    state = hanabi_jax.reset_from_deck(VERY_SMALL, np.array([4, 3, 0, 1, 0, 0, 1, 2, 2, 3]))
    # Player 0 holds 5 and 4: playing either loses the only life.
    key = jax.random.PRNGKey(5)
    after, rewards, done, info = hanabi_jax.auto_reset_step(VERY_SMALL, state, 2, key)
    assert bool(done) and int(info["score"]) == 0 and not bool(info["illegal_action"])
    np.testing.assert_array_equal(rewards, [0.0, 0.0])
    assert _tree_equal(after, hanabi_jax.reset(VERY_SMALL, key))
    # Player 0 plays the 1 from slot 1 (4 is in slot 0), player 1 plays the 2, then 0 misplays.
    state = hanabi_jax.reset_from_deck(VERY_SMALL, np.array([4, 0, 1, 3, 0, 0, 1, 2, 2, 3]))
    state, rewards, _, _ = STEP(VERY_SMALL, state, 3)
    state, rewards, _, _ = STEP(VERY_SMALL, state, 2)
    assert int(hanabi_jax.score(VERY_SMALL, state)) == 2 and float(rewards[0]) == 1.0
    after, rewards, done, info = hanabi_jax.auto_reset_step(VERY_SMALL, state, 2, key)
    assert bool(done) and int(info["score"]) == 0
    np.testing.assert_array_equal(rewards, [-2.0, -2.0])


@pytest.mark.parametrize("max_resets", [1, None])
def test_step_batch_equals_vmapped_auto_reset_step(max_resets):
    config, batch_size = VERY_SMALL, 16
    key = jax.random.PRNGKey(11)
    state = hanabi_jax.reset_batch(config, key, batch_size)
    np.testing.assert_array_equal(
        state.deck, jax.vmap(lambda i: hanabi_jax.reset(config, jax.random.fold_in(key, i)).deck)(
            jnp.arange(batch_size)))

    @jax.jit
    def both(state, key):
        mask = jax.vmap(lambda s: hanabi_jax.legal_actions_mask(config, s))(state)
        actions = jax.random.categorical(key, jnp.where(mask, 0.0, -jnp.inf))
        games = jnp.arange(batch_size)
        expected = jax.vmap(lambda s, a, i: hanabi_jax.auto_reset_step(
            config, s, a, jax.random.fold_in(key, i)))(state, actions, games)
        return hanabi_jax.step_batch(config, state, actions, key, max_resets), expected

    finished = 0
    for t in range(40):
        got, expected = both(state, jax.random.PRNGKey(t))
        assert _tree_equal(got, expected)
        state = got[0]
        finished += int(got[2].sum())
    assert finished > 2 * batch_size


def test_batched_hanabi_shapes():
    games = hanabi_jax.BatchedHanabi(FULL, 8)
    state = games.reset(jax.random.PRNGKey(0))
    mask = games.legal_actions_mask(state)
    assert mask.shape == (8, FULL.num_actions)
    assert games.observations(state).shape == (8, 2, FULL.observation_size)
    actions = jnp.argmax(mask, axis=-1)
    state, rewards, done, info = games.step(state, actions, jax.random.PRNGKey(1))
    assert rewards.shape == (8, 2) and done.shape == (8,) and info["score"].shape == (8,)
    assert not info["illegal_action"].any()
    with pytest.raises(ValueError, match="multiple"):
        hanabi_jax.BatchedHanabi(FULL, 3, devices=jax.devices() * 2)
