"""Bad input to `games.hanabi.jax_game` and `make_config`: one clear `ValueError`, nothing
changed."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from games import hanabi
from games.hanabi import jax_game as hanabi_jax
from games.hanabi.config import MAX_INFORMATION_TOKENS, MAX_LIFE_TOKENS, make_config

SMALL = make_config("small")
KEY = jax.random.PRNGKey(0)


def _tree_equal(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b)))


@pytest.mark.parametrize("action,detail", [
    (2.7, "2.7"),
    (2.0, "2.0"),
    ("2", "'2'"),
    (b"3", "b'3'"),
    (True, "True"),
    (np.bool_(True), "True"),
    (None, "None"),
    ([6], "[6]"),
    (np.float32(6), "6.0"),
    (np.array([6]), "a int64 array of shape (1,)"),
    (np.array(6.0), "a float64 array of shape ()"),
    (jnp.array([[6]], jnp.int32), "a int32 array of shape (1, 1)"),
    (jnp.array(True), "a bool array of shape ()"),
], ids=repr)
def test_checked_step_refuses_actions_that_are_not_integers(action, detail):
    state = hanabi_jax.reset(SMALL, KEY)
    twin = hanabi_jax.reset(SMALL, KEY)
    expected = "hanabi action must be an int or a 0-d integer array, got "
    with pytest.raises(ValueError, match=re.escape(expected) + ".*" + re.escape(detail)):
        hanabi_jax.checked_step(SMALL, state, action)
    assert _tree_equal(state, twin)


@pytest.mark.parametrize("action", [2, np.int8(2), np.int64(2), np.array(2), jnp.array(2),
                                    jnp.array(2, jnp.uint8)], ids=repr)
def test_checked_step_takes_integers_of_any_kind(action):
    state = hanabi_jax.reset(SMALL, KEY)
    assert _tree_equal(hanabi_jax.checked_step(SMALL, state, action),
                       hanabi_jax.step(SMALL, state, 2))


@pytest.mark.parametrize("state,message", [
    (hanabi_jax.reset("full", KEY), "field 'deck' has shape (50,) but a game of"),
    (hanabi_jax.reset({"preset": "small", "players": 3}, KEY), "field 'hands' has shape (3, 2)"),
    (hanabi_jax.reset_batch(SMALL, KEY, 2), "field 'deck' has shape (2, 20)"),
    ({"deck": np.zeros(20)}, "hanabi state must be a HanabiState, got dict"),
    (hanabi_jax.reset(SMALL, KEY)._replace(last_revealed=jnp.zeros(3, bool)),
     "field 'last_revealed' has shape (3,)"),
], ids=["full", "3_players", "batch", "dict", "one_field"])
def test_checked_step_refuses_a_state_of_another_config(state, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        hanabi_jax.checked_step(SMALL, state, 6)


@pytest.mark.parametrize("spec,message", [
    ({"max_information_tokens": 10**9},
     f"'max_information_tokens' must be 1 to {MAX_INFORMATION_TOKENS}, got 1000000000"),
    ({"max_information_tokens": MAX_INFORMATION_TOKENS + 1},
     f"'max_information_tokens' must be 1 to {MAX_INFORMATION_TOKENS}"),
    ({"max_life_tokens": 10**9}, f"'max_life_tokens' must be 1 to {MAX_LIFE_TOKENS}"),
    ({"max_information_tokens": 0}, "'max_information_tokens' must be 1 to"),
    ({"max_life_tokens": -1}, "'max_life_tokens' must be 1 to"),
    ({"hand_size": 10**9}, "'hand_size' must be at most 25 for 2 players and a 50-card deck"),
    ({"hand_size": 0}, "'hand_size' must be at least 1"),
    ({"players": 6}, "'players' must be 2 to 5"),
    ({"players": 1}, "'players' must be 2 to 5"),
    ({"colors": 6}, "'colors' must be 1 to 5"),
    ({"ranks": 0}, "'ranks' must be 1 to 5"),
    ({"max_life_tokens": 2.0}, "'max_life_tokens' must be an int"),
    ({"colors": True}, "'colors' must be an int"),
], ids=repr)
def test_make_config_bounds_every_parameter(spec, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        make_config(spec)


def test_huge_token_counts_are_refused_before_any_allocation():
    with pytest.raises(ValueError, match="'max_information_tokens' must be 1 to"):
        hanabi.HanabiGame({"max_information_tokens": 10**9}, 1, 0)


def test_the_largest_valid_parameters_build():
    config = make_config({"max_information_tokens": MAX_INFORMATION_TOKENS,
                          "max_life_tokens": MAX_LIFE_TOKENS, "hand_size": 25})
    assert config.observation_size > 2 * MAX_INFORMATION_TOKENS


@pytest.mark.parametrize("spec", ["small", {"preset": "small"}, dict(SMALL.open_spiel_params())],
                         ids=repr)
def test_hanabi_jax_takes_preset_names_and_parameter_dicts(spec):
    state = hanabi_jax.reset(spec, KEY)
    assert _tree_equal(state, hanabi_jax.reset(SMALL, KEY))
    assert _tree_equal(hanabi_jax.step(spec, state, 2), hanabi_jax.step(SMALL, state, 2))
    assert _tree_equal(hanabi_jax.checked_step(spec, state, 2), hanabi_jax.step(SMALL, state, 2))
    np.testing.assert_array_equal(hanabi_jax.observation(spec, state, 1),
                                  hanabi_jax.observation(SMALL, state, 1))
    np.testing.assert_array_equal(hanabi_jax.legal_actions_mask(spec, state),
                                  hanabi_jax.legal_actions_mask(SMALL, state))
    assert hanabi_jax.BatchedHanabi(spec, 2).config == SMALL


def test_hanabi_jax_takes_a_preset_name_under_jit():
    step = jax.jit(hanabi_jax.step, static_argnums=0)
    state = hanabi_jax.reset(SMALL, KEY)
    assert _tree_equal(step("small", state, 2), step(SMALL, state, 2))


@pytest.mark.parametrize("spec,message", [
    ("huge", "unknown hanabi preset 'huge'"),
    (3, "hanabi game must be a preset name or a parameter dict, got 3"),
    ({"players": 9}, "'players' must be 2 to 5"),
    ({"colours": 2}, "unknown hanabi parameter 'colours'"),  # the parameter is `colors`
], ids=repr)
@pytest.mark.parametrize("entry", ["reset", "step", "observation", "batched"])
def test_hanabi_jax_refuses_a_bad_config(spec, message, entry):
    state = hanabi_jax.reset(SMALL, KEY)
    calls = {"reset": lambda: hanabi_jax.reset(spec, KEY),
             "step": lambda: hanabi_jax.step(spec, state, 6),
             "observation": lambda: hanabi_jax.observation(spec, state, 0),
             "batched": lambda: hanabi_jax.BatchedHanabi(spec, 2)}
    with pytest.raises(ValueError, match=re.escape(message)):
        calls[entry]()
