"""The rules of Hanabi as array functions, for numpy and for `jax.numpy` alike.

Every function takes its array module from its inputs: numpy arrays give numpy results, JAX
arrays (or tracers, under `jax.jit` and `jax.vmap`) give JAX results with the same values and
dtypes. Functions work on one game; those whose docstring shows `...` accept leading batch axes.

* Cards and actions: `card_colors`, `card_ranks`, `decode_action` (an action id taken apart, a
  `Move`; ids as laid out by `games.hanabi.layout.action_layout`), `NO_CARD`.
* Deck: `copies_per_rank`, `copies_per_value`, `deck_values`, `remaining_counts`.
* Card status: `card_status` (playable, dead, critical per card value; `NUM_CARD_STATUSES`).
* Legal moves: `legal_hints` (from the partners' hands), `legal_actions`.
* Hands: `relative_rows` (seat rotation), `remove_slot` (a card leaves its slot).
* Decoders of the canonical observation (`games.hanabi.layout`): `fireworks_from_observation`,
  `discards_from_observation`, `last_removed_card`, `partner_hands_from_private`,
  `seat_hands_from_private`. Those reading the public part take `public=True` for a public
  observation and `public=False` for a full one; the length of its last axis must match.

The copies of a card of each rank are `HanabiConfig.copies_of_rank`'s rule.
"""

from __future__ import annotations

import functools
import types
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from games.hanabi.config import HanabiConfig
from games.hanabi.layout import action_layout, observation_layout

NO_CARD = -1  # the card value of an empty hand slot
NUM_CARD_STATUSES = 3
PLAYABLE, DEAD, CRITICAL = range(NUM_CARD_STATUSES)  # the last axis of `card_status`


def _module(*arrays) -> types.ModuleType:
    """`jax.numpy` if any argument is a JAX array or tracer, else numpy."""
    return jnp if any(isinstance(array, jax.Array) for array in arrays) else np


# ---------------------------------------------------------------------------------------------
# Cards and actions.


def card_colors(config: HanabiConfig, values):
    """The color of each card value: [...] (meaningless for `NO_CARD`)."""
    return values // config.ranks


def card_ranks(config: HanabiConfig, values):
    """The rank of each card value: [...] (meaningless for `NO_CARD`)."""
    return values % config.ranks


class Move(NamedTuple):
    """An action id taken apart; fields that do not apply to its kind are meaningless."""

    is_discard: jax.Array
    is_play: jax.Array
    is_color_hint: jax.Array
    is_rank_hint: jax.Array
    slot: jax.Array     # play and discard
    offset: jax.Array   # hints: target seat minus acting seat, 1 to players - 1
    color: jax.Array    # color hint
    rank: jax.Array     # rank hint


def decode_action(config: HanabiConfig, action) -> Move:
    """Splits action ids (int [...]) into their kind and parameters (an id out of range is none
    of the four kinds)."""
    xp = _module(action)
    c, r = config.colors, config.ranks
    layout = action_layout(config)
    action = xp.asarray(action, xp.int32)

    def within(ids: slice):
        return (action >= ids.start) & (action < ids.stop)

    color_index = action - layout.color_hint.start
    rank_index = action - layout.rank_hint.start
    is_color_hint = within(layout.color_hint)
    return Move(
        is_discard=within(layout.discard),
        is_play=within(layout.play),
        is_color_hint=is_color_hint,
        is_rank_hint=within(layout.rank_hint),
        slot=xp.where(action < layout.play.start, action - layout.discard.start,
                      action - layout.play.start),
        offset=xp.where(is_color_hint, color_index // c, rank_index // r) + 1,
        color=color_index % c,
        rank=rank_index % r,
    )


# ---------------------------------------------------------------------------------------------
# The deck.


@functools.cache
def _copies_per_value(config: HanabiConfig) -> np.ndarray:
    ranks = np.array([config.copies_of_rank(rank) for rank in range(config.ranks)], np.int32)
    copies = np.tile(ranks, config.colors)
    copies.flags.writeable = False
    return copies


def copies_per_rank(config: HanabiConfig) -> np.ndarray:
    """Copies of each card of a color in the deck, by rank: int32 [ranks]."""
    return _copies_per_value(config)[:config.ranks].copy()


def copies_per_value(config: HanabiConfig) -> np.ndarray:
    """Copies of each card value in the deck: int32 [num_values]."""
    return _copies_per_value(config).copy()


@functools.cache
def _deck_values(config: HanabiConfig) -> np.ndarray:
    deck = np.repeat(np.arange(config.num_values, dtype=np.int32), _copies_per_value(config))
    deck.flags.writeable = False
    return deck


def deck_values(config: HanabiConfig) -> np.ndarray:
    """The card values of a full deck, sorted: int32 [deck_size]."""
    return _deck_values(config).copy()


def remaining_counts(config: HanabiConfig, fireworks, discards):
    """Copies of each value neither discarded nor played: int32 [..., num_values].

    Args:
      fireworks: int [..., colors], cards played per color.
      discards: int [..., num_values], copies of each value discarded or misplayed.
    """
    xp = _module(fireworks, discards)
    played = (xp.arange(config.ranks) < fireworks[..., :, None]).reshape(*discards.shape)
    return (_copies_per_value(config) - discards.astype(xp.int32)
            - played.astype(xp.int32))


# ---------------------------------------------------------------------------------------------
# Card status.


def card_status(config: HanabiConfig, fireworks, discards):
    """Per card value, 1.0 where it is playable now, dead and critical: float32 [..., values, 3].

    A card is dead when it was already played or some lower rank of its color has no copy left,
    critical when it is not dead and exactly one copy is left (the axis order is `PLAYABLE`,
    `DEAD`, `CRITICAL`).

    Args:
      fireworks: [..., colors] (any real dtype), cards played per color.
      discards: [..., num_values] (any real dtype), copies of each value discarded or misplayed.
    """
    xp = _module(fireworks, discards)
    c, r = config.colors, config.ranks
    level = fireworks[..., :, None]                                          # [..., c, 1]
    rank = xp.arange(r, dtype=xp.float32)                                    # [r]
    left = (_copies_per_value(config).reshape(c, r)
            - discards.reshape(*discards.shape[:-1], c, r))                  # [..., c, r]
    # Rank j is unreachable when some rank k in [level, j) has no copy left: below[.., k, j].
    below = (rank[:, None] >= level[..., None]) & (rank[:, None] < rank)     # [..., c, r, r]
    blocked = xp.any(below & (left[..., :, None] <= 0), axis=-2)             # [..., c, r]
    playable = rank == level
    dead = (rank < level) | blocked
    critical = ~dead & (left == 1)
    status = xp.stack([playable, dead, critical], axis=-1)
    return status.reshape(*status.shape[:-3], config.num_values,
                          NUM_CARD_STATUSES).astype(xp.float32)


# ---------------------------------------------------------------------------------------------
# Legal moves.


def legal_hints(config: HanabiConfig, partner_hands, can_hint):
    """Which hints are legal: bool [..., (players - 1) * (colors + ranks)].

    The hint actions in id order (`action_layout(config).hints`): a hint is legal when an
    information token is left and the target holds a card of the hinted color or rank.

    Args:
      partner_hands: int [..., players - 1, hand_size], the partners' card values in seat order
        from the actor (-1: empty slot).
      can_hint: bool [...], whether an information token is left.
    """
    xp = _module(partner_hands, can_hint)
    c, r = config.colors, config.ranks
    valid = (partner_hands >= 0)[..., None]
    colors = xp.any(valid & (card_colors(config, partner_hands)[..., None] == xp.arange(c)),
                    axis=-2)
    ranks = xp.any(valid & (card_ranks(config, partner_hands)[..., None] == xp.arange(r)), axis=-2)
    batch = partner_hands.shape[:-2]
    can_hint = xp.asarray(can_hint)[..., None]
    return xp.concatenate([colors.reshape(*batch, -1) & can_hint,
                           ranks.reshape(*batch, -1) & can_hint], axis=-1)


def legal_actions(config: HanabiConfig, cards_held, information_tokens, partner_hands):
    """The actor's legal actions: bool [..., num_actions] (the game must not be over).

    Discards need a spent information token, plays a card in the slot, hints `legal_hints`.

    Args:
      cards_held: int [...], cards in the actor's hand (they fill its first slots).
      information_tokens: int or float [...], information tokens left.
      partner_hands: int [..., players - 1, hand_size] as in `legal_hints`.
    """
    xp = _module(cards_held, information_tokens, partner_hands)
    slot_held = xp.arange(config.hand_size) < xp.asarray(cards_held)[..., None]
    information_tokens = xp.asarray(information_tokens)
    can_discard = (information_tokens < config.max_information_tokens)[..., None]
    # Concatenated in the order of `action_layout`: discards, plays, then the hints.
    return xp.concatenate([slot_held & can_discard, slot_held,
                           legal_hints(config, partner_hands, information_tokens > 0)], axis=-1)


# ---------------------------------------------------------------------------------------------
# Hands.


def relative_rows(rows, seat):
    """`rows` [players, ...] in seat order rotated to start at `seat` (an int or int [] array).

    Equal to the gather `rows[(seat + arange(players)) % players]`, and floats take that gather.
    Ints and bools take a masked sum over the players instead, cheaper for a few small rows under
    vmap. Not for floats: XLA's sum flushes subnormals (and turns -0.0 into 0.0), and a chain of
    selects, exact too, evaluates a producer fused into it once per player (a caller's whole
    belief iteration, fused into the rotation of its marginals, ran three times on 3 players).
    """
    xp = _module(rows, seat)
    players = rows.shape[0]
    order = (seat + xp.arange(players)) % players
    if xp.issubdtype(rows.dtype, xp.floating):
        return rows[order]
    pick = (order[:, None] == xp.arange(players)).reshape(
        (players, players) + (1,) * (rows.ndim - 1))
    if rows.dtype == bool:
        return xp.any(pick & rows[None], axis=1)
    return xp.sum(xp.where(pick, rows[None], 0), axis=1, dtype=rows.dtype)


def remove_slot(rows, slot, fill, axis: int = -1):
    """`rows` after the card in `slot` left the hand: the later slots move down, `fill` goes last.

    Args:
      rows: [..., hand_size, ...] per-slot entries, the slots along `axis`.
      slot: int or int [] array, the slot the card left.
      fill: the new last slot's entry (a scalar or int [] array).
      axis: the slot axis of `rows`.
    """
    xp = _module(rows, slot, fill)
    axis = axis % rows.ndim
    after = (slice(None),) * axis
    last = rows[after + (slice(None, 1),)]
    fill = xp.broadcast_to(xp.asarray(fill, rows.dtype), last.shape)
    shifted = xp.concatenate([rows[after + (slice(1, None),)], fill], axis=axis)
    below = (xp.arange(rows.shape[axis]) < slot).reshape((-1,) + (1,) * (rows.ndim - axis - 1))
    return xp.where(below, rows, shifted)


# ---------------------------------------------------------------------------------------------
# Decoders of the canonical observation.


def _field(config: HanabiConfig, observation, field: slice, public: bool):
    """`observation[..., field]` of a full or (`public`) public observation."""
    layout = observation_layout(config)
    part = layout.public if public else slice(0, layout.size)
    expected = part.stop - part.start
    if observation.shape[-1] != expected:
        kind = "public observation" if public else "observation"
        raise ValueError(f"hanabi {kind} must have {expected} entries in its last axis, got shape "
                         f"{tuple(observation.shape)}.")
    return observation[..., layout.in_public(field) if public else field]


def fireworks_from_observation(config: HanabiConfig, observation, *, public: bool):
    """Cards played per color: float32 [..., colors] (for a float32 observation).

    Args:
      observation: [..., observation_size] canonical observations, or [..., public_size] public
        observations when `public`.
      public: which of the two `observation` is.
    """
    xp = _module(observation)
    bits = _field(config, observation, observation_layout(config).fireworks, public)
    bits = bits.reshape(*bits.shape[:-1], config.colors, config.ranks)
    return bits @ xp.arange(1, config.ranks + 1, dtype=xp.float32)


def discards_from_observation(config: HanabiConfig, observation, *, public: bool):
    """Copies of each value discarded or misplayed: float32 [..., num_values].

    Args: as for `fireworks_from_observation`.
    """
    bits = _field(config, observation, observation_layout(config).discards, public)
    return bits @ _value_of_discard_bit(config)


@functools.cache
def _value_of_discard_bit(config: HanabiConfig) -> np.ndarray:
    """float32 [deck_size, num_values]: the value each discard bit counts, one-hot."""
    owner = _deck_values(config)
    one_hot = (owner[:, None] == np.arange(config.num_values)).astype(np.float32)
    one_hot.flags.writeable = False
    return one_hot


def last_removed_card(config: HanabiConfig, observation, *, public: bool):
    """What the last move took out of a hand, from the last-action section.

    Args: as for `fireworks_from_observation`.

    Returns:
      (removed bool [...]: the last move played or discarded a card; the mover's seat offset from
      the observer, int32 [...]; the card's slot, int32 [...]; its value, int32 [...]). The last
      three are 0 when nothing was removed.
    """
    xp = _module(observation)
    layout = observation_layout(config)
    slot_bits = _field(config, observation, layout.last_slot, public)
    mover = _field(config, observation, layout.last_player, public)
    card = _field(config, observation, layout.last_card, public)
    return (slot_bits.sum(-1) > 0, xp.argmax(mover, -1).astype(xp.int32),
            xp.argmax(slot_bits, -1).astype(xp.int32), xp.argmax(card, -1).astype(xp.int32))


def partner_hands_from_private(config: HanabiConfig, private_observation):
    """The partners' hands: int32 [..., players - 1, hand_size], -1 for an empty slot.

    Args:
      private_observation: [..., private_size], the observer's private observation (the first
        `private_size` entries of its canonical observation); partners in seat order from it.
    """
    xp = _module(private_observation)
    layout = observation_layout(config)
    if private_observation.shape[-1] != layout.private.stop:
        raise ValueError(f"hanabi private observation must have {layout.private.stop} entries in "
                         f"its last axis, got shape {tuple(private_observation.shape)}.")
    one_hot = private_observation.reshape(*private_observation.shape[:-1], config.players - 1,
                                          config.hand_size, config.num_values)
    return xp.where(one_hot.max(-1) > 0, xp.argmax(one_hot, -1), NO_CARD).astype(xp.int32)


def seat_hands_from_private(config: HanabiConfig, private_observations):
    """Every player's hand: int32 [..., players, hand_size] (absolute seats, -1 empty).

    Args:
      private_observations: [..., players, private_size], every player's private observation in
        seat order. Seat `s`'s hand is read from the player to its right, whose first partner it is.
    """
    xp = _module(private_observations)
    partner_hands = partner_hands_from_private(config, private_observations)
    players = config.players
    return xp.stack([partner_hands[..., (seat - 1) % players, 0, :] for seat in range(players)],
                    axis=-2)
