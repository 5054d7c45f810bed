"""The canonical observation of a `games.hanabi.jax_game` state, built by one gather and compare.

`observation(config, state, p)` is OpenSpiel's `observation_tensor(p)` (HLE's canonical
encoding, laid out by `games.hanabi.layout.observation_layout`); `private_observation` and
`public_observation` are its two parts, `card_knowledge` the public hint masks. All are exported
by `games.hanabi.jax_game` too, and work on one game, for `jax.vmap`.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from games.hanabi.config import HanabiConfig, accepts_config_spec
from games.hanabi.jax_state import HanabiState
from games.hanabi.layout import MOVE_TYPES, observation_layout
from games.hanabi.rules import (
    NO_CARD,
    card_colors,
    card_ranks,
    copies_per_value,
    decode_action,
    relative_rows,
)

_PLAY, _DISCARD, _REVEAL_COLOR, _REVEAL_RANK = (
    MOVE_TYPES.index(name) for name in ("play", "discard", "reveal_color", "reveal_rank"))


def _bits(mask: jax.Array, size: int) -> jax.Array:
    """bool [..., size]: the low `size` bits of an integer mask."""
    return ((mask[..., None] >> jnp.arange(size, dtype=mask.dtype)) & 1).astype(bool)


def _plausible(config: HanabiConfig, hands: jax.Array, color_plausible: jax.Array,
               rank_plausible: jax.Array) -> jax.Array:
    """bool [..., num_values] from the per-slot color and rank bitmasks; empty slots 0."""
    colors = _bits(color_plausible, config.colors)
    ranks = _bits(rank_plausible, config.ranks)
    plausible = (colors[..., :, None] & ranks[..., None, :]).reshape(
        *hands.shape, config.num_values)
    return plausible & (hands >= 0)[..., None]


@accepts_config_spec
def card_knowledge(config: HanabiConfig, state: HanabiState) -> jax.Array:
    """bool [players, hand_size, num_values]: card values each slot's hints allow; empty slots 0."""
    return _plausible(config, state.hands, state.color_plausible, state.rank_plausible)


_EQUALS, _GREATER, _HAS_BIT = range(3)


class _Encoding(NamedTuple):
    """Bit `i` of the observation is `test[i]` applied to feature `source[i]` and `constant[i]`."""

    source: np.ndarray
    test: np.ndarray
    constant: np.ndarray


@functools.cache
def _encoding(config: HanabiConfig) -> _Encoding:
    """The canonical encoding as one table over the small integer features of `_features`.

    Every bit of HLE's encoding is a one-hot (`_EQUALS`), a thermometer (`_GREATER`) or a bit of a
    mask (`_HAS_BIT`) of one feature, so the observation is a single gather and compare, which
    XLA fuses into one loop instead of concatenating dozens of small pieces. Each field of
    `observation_layout(config)` gets its bits' entries here.
    """
    p, h, c, r, v = config.players, config.hand_size, config.colors, config.ranks, \
        config.num_values
    layout = observation_layout(config)
    source, test, constant = (np.zeros(layout.size, np.int32) for _ in range(3))
    next_feature = 0

    def features(count: int) -> int:
        nonlocal next_feature
        next_feature += count
        return next_feature - count

    def encode(field: slice, feature, kind: int, constants) -> None:
        """The bits of `field` test `feature` (one index, or one per bit) against `constants`."""
        source[field], test[field], constant[field] = feature, kind, constants

    others = features((p - 1) * h)  # the other players' cards, relative seats
    encode(layout.partner_cards, others + np.repeat(np.arange((p - 1) * h), v), _EQUALS,
           np.tile(np.arange(v), (p - 1) * h))
    last_slots = features(p)  # each hand's last slot (empty when the hand is short)
    encode(layout.missing_cards, last_slots + np.arange(p), _EQUALS, NO_CARD)
    encode(layout.deck, features(1), _GREATER, np.arange(layout.deck.stop - layout.deck.start))
    fireworks = features(c)
    encode(layout.fireworks, fireworks + np.repeat(np.arange(c), r), _EQUALS,
           np.tile(np.arange(1, r + 1), c))
    encode(layout.information_tokens, features(1), _GREATER,
           np.arange(config.max_information_tokens))
    encode(layout.life_tokens, features(1), _GREATER, np.arange(config.max_life_tokens))
    discards = features(v)
    copies = copies_per_value(config)
    encode(layout.discards, discards + np.repeat(np.arange(v), copies), _GREATER,
           np.concatenate([np.arange(count) for count in copies]))
    last_action = [  # in the order of `_last_action_features`
        (layout.last_player, _EQUALS, np.arange(p)),
        (layout.last_move_type, _EQUALS, np.arange(len(MOVE_TYPES))),
        (layout.last_target, _EQUALS, np.arange(p)),
        (layout.last_color, _EQUALS, np.arange(c)),
        (layout.last_rank, _EQUALS, np.arange(r)),
        (layout.last_revealed, _HAS_BIT, np.arange(h)),
        (layout.last_slot, _EQUALS, np.arange(h)),
        (layout.last_card, _EQUALS, np.arange(v)),
        (layout.last_scored, _EQUALS, 1),
        (layout.last_added_token, _EQUALS, 1),
    ]
    last = features(len(last_action))
    for index, (field, kind, constants) in enumerate(last_action):
        encode(field, last + index, kind, constants)
    # Per slot three features: the plausible values mask, the hinted color and the hinted rank.
    knowledge = features(3 * p * h)
    blocks = layout.card_knowledge.start + layout.knowledge_width * np.arange(p * h)
    parts = [(layout.knowledge_plausible, _HAS_BIT, v), (layout.knowledge_color, _EQUALS, c),
             (layout.knowledge_rank, _EQUALS, r)]
    for part, (field, kind, count) in enumerate(parts):
        bits = (blocks[:, None] + np.arange(field.start, field.stop)).reshape(-1)
        encode(bits, np.repeat(knowledge + 3 * np.arange(p * h) + part, count), kind,
               np.tile(np.arange(count), p * h))
    return _Encoding(source, test, constant)


def _last_action_features(config: HanabiConfig, state: HanabiState,
                          player: jax.Array) -> jax.Array:
    """int32 [10]: the last move's mover, kind, target, color, rank, touched slots (bitmask),
    slot, card, success and token gain, seats relative to `player`; -1 (0 for the bitmask) where
    the move has no such field or no move was made yet."""
    p = config.players
    move = decode_action(config, state.last_action)
    any_move = state.last_action >= 0
    is_hint = any_move & (move.is_color_hint | move.is_rank_hint)
    removes = any_move & (move.is_play | move.is_discard)
    kind = jnp.select([move.is_play, move.is_discard, move.is_color_hint],
                      [_PLAY, _DISCARD, _REVEAL_COLOR], _REVEAL_RANK)
    touched = jnp.sum(state.last_revealed.astype(jnp.int32) << jnp.arange(config.hand_size))
    def when(condition: jax.Array, value: jax.Array) -> jax.Array:
        return jnp.where(condition, value, -1)

    return jnp.stack([
        when(any_move, (state.last_player - player) % p),
        when(any_move, kind),
        when(is_hint, (state.last_player + move.offset - player) % p),
        when(any_move & move.is_color_hint, move.color),
        when(any_move & move.is_rank_hint, move.rank),
        jnp.where(is_hint, touched, 0),
        when(removes, move.slot),
        when(removes, state.last_card),
        any_move & move.is_play & state.last_scored,
        any_move & move.is_play & state.last_information_gained,
    ]).astype(jnp.int32)


def _features(config: HanabiConfig, state: HanabiState, player: jax.Array) -> jax.Array:
    """int32 [features]: what `player` observes, in the order of `_encoding`."""
    hands = relative_rows(state.hands, player).astype(jnp.int32)
    valid = hands >= 0
    color_plausible = relative_rows(state.color_plausible, player).astype(jnp.int32)
    rank_plausible = relative_rows(state.rank_plausible, player).astype(jnp.int32)
    plausible = sum(((color_plausible >> color) & 1) * (rank_plausible << (color * config.ranks))
                    for color in range(config.colors))
    knowledge = jnp.stack([
        jnp.where(valid, plausible, 0),
        jnp.where(relative_rows(state.color_revealed, player) & valid,
                  card_colors(config, hands), -1),
        jnp.where(relative_rows(state.rank_revealed, player) & valid,
                  card_ranks(config, hands), -1),
    ], axis=-1)
    return jnp.concatenate([
        hands[1:].reshape(-1),
        hands[:, -1],
        jnp.stack([config.deck_size - state.cards_dealt.astype(jnp.int32)]),
        state.fireworks.astype(jnp.int32),
        jnp.stack([state.information_tokens, state.life_tokens]).astype(jnp.int32),
        state.discards.astype(jnp.int32),
        _last_action_features(config, state, player),
        knowledge.reshape(-1),
    ])


def _observation_entries(config: HanabiConfig, state: HanabiState, player: jax.Array,
                         entries: slice, dtype) -> jax.Array:
    """`observation(config, state, player, dtype)[entries]`, computing only those bits."""
    source, test, constant = (table[entries] for table in _encoding(config))
    values = _features(config, state, player)[source]
    bits = jnp.where(
        test == _EQUALS, values == constant,
        jnp.where(test == _GREATER, values > constant,
                  ((values >> np.maximum(constant, 0)) & 1) == 1))
    return bits.astype(dtype)


@accepts_config_spec
def observation(config: HanabiConfig, state: HanabiState, player: jax.Array,
                dtype=jnp.float32) -> jax.Array:
    """OpenSpiel's `observation_tensor(player)`: [observation_size] of 0/1 in `dtype`."""
    return _observation_entries(config, state, player, slice(None), dtype)


@accepts_config_spec
def private_observation(config: HanabiConfig, state: HanabiState, player: jax.Array,
                        dtype=jnp.float32) -> jax.Array:
    """The other players' cards as `player` sees them: the first `private_size` entries."""
    return _observation_entries(config, state, player, observation_layout(config).private, dtype)


@accepts_config_spec
def public_observation(config: HanabiConfig, state: HanabiState, player: jax.Array,
                       dtype=jnp.float32) -> jax.Array:
    """Everything of the observation but the other players' cards: [public_size]."""
    return _observation_entries(config, state, player, observation_layout(config).public, dtype)
