"""Pure-JAX Hanabi, step for step identical to OpenSpiel's `hanabi` (the Hanabi Learning Env.).

Every function takes the static `HanabiConfig` first (hashable: pass it as a static argument to
`jax.jit`). Most work on one game, for `jax.vmap`: `reset`, `reset_from_deck`, `step`,
`checked_step` (not jittable), `legal_actions_mask`, `observation`, `public_observation`,
`private_observation`, `card_knowledge`, `remaining_counts`, `score`, `decode_action`.
`reset_batch` and `step_batch` work on a batch (leading axis) and replace finished games by newly
dealt ones; `auto_reset_step` does that for one game under `vmap`, at the cost of dealing a deck
for every game at every step. `BatchedHanabi` jits the batch functions and shards the batch over
`jax.devices()`.

Conventions, all OpenSpiel's and HLE's:

* Card values are `colour * ranks + rank`; OpenSpiel's chance action for dealing a card is its value.
* The deck is a deal order (`reset_from_deck` takes one). The initial hands are dealt player by
  player, player 0 first, each hand filled from slot 0 up. A played or discarded card leaves its
  slot, the cards above it move down one slot and the replacement (the next card of the deck)
  goes to the last slot. No card is dealt after the move that ends the game, nor once the deck is
  empty (hands then shrink; their empty slots are the last ones).
* Action ids: discard slot `s` is `s`, play slot `s` is `hand_size + s`, hinting colour `c` to the
  player `o` seats to the left is `2 * hand_size + (o - 1) * colors + c`, hinting rank `r` is
  `2 * hand_size + (players - 1) * colors + (o - 1) * ranks + r`. Player 0 starts.
* The score is the number of cards on the fireworks, or 0 once the last life token is lost. The
  reward of a move, the same for every player, is the change in score (so losing the last life
  gives minus the score reached). The game ends when the life tokens run out, when every firework
  is complete, or once every player has made one more move after the deck ran out.
* `observation(config, state, p)` is OpenSpiel's `observation_tensor(p)`: HLE's canonical encoding
  (other hands, missing-card flags, board, discards, last action, card knowledge), seats relative
  to `p`. `hanabi_config` documents the public/private split, the public card knowledge and the
  remaining card counts.

Compiled code cannot raise, so `step` treats an illegal action (a hint that touches no card, a
discard with all information tokens, an empty slot, an id out of range, any move once the game is
over) as a no-op: the state is returned unchanged, the rewards are 0 and `info["illegal_action"]`
is True. `checked_step` is the non-jitted variant that raises a `ValueError` instead.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, TypeVar

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from games.hanabi_config import ConfigSpec, HanabiConfig, as_config
from games.hanabi_layout import MOVE_TYPES, action_layout, observation_layout
from games.hanabi_rules import (copies_per_value, deck_values, legal_actions, relative_rows,
                                remaining_counts as _remaining_counts, remove_slot)

_NO_CARD = -1
_PLAY, _DISCARD, _REVEAL_COLOR, _REVEAL_RANK = (
    MOVE_TYPES.index(name) for name in ("play", "discard", "reveal_color", "reveal_rank"))

_Function = TypeVar("_Function", bound=Callable[..., Any])


def _takes_config_spec(function: _Function) -> _Function:
    """Lets `function` take any `ConfigSpec` (a preset name, a parameter dict) as its config.

    The conversion runs in Python: once when traced under `jit`, at every call outside it.
    """
    @functools.wraps(function)
    def with_config(config: ConfigSpec, *args, **kwargs):
        return function(as_config(config), *args, **kwargs)
    return with_config  # type: ignore[return-value]


class HanabiState(NamedTuple):
    """One game. Card values are int8, `-1` marks an empty hand slot or a missing entry."""

    deck: jax.Array                 # int8 [deck_size]: card values in deal order
    cards_dealt: jax.Array          # int8 []: cards of `deck` dealt so far
    hands: jax.Array                # int8 [players, hand_size]: card values, absolute seats
    color_plausible: jax.Array      # int8 [players, hand_size]: bit c set if colour c is possible
    rank_plausible: jax.Array       # int8 [players, hand_size]: bit r set if rank r is possible
    color_revealed: jax.Array       # bool [players, hand_size]: the card's colour was hinted
    rank_revealed: jax.Array        # bool [players, hand_size]: the card's rank was hinted
    fireworks: jax.Array            # int8 [colors]: cards played of each colour
    discards: jax.Array             # int8 [num_values]: copies of each value discarded or misplayed
    information_tokens: jax.Array   # int32 []: make_config allows more tokens than int8 holds
    life_tokens: jax.Array          # int32 []
    current_player: jax.Array       # int8 []
    turns_left: jax.Array           # int8 []: moves left once the deck is empty (players at first)
    done: jax.Array                 # bool []
    last_action: jax.Array          # int8 []: last move's id, -1 before the first move
    last_player: jax.Array          # int8 []: seat that made it
    last_revealed: jax.Array        # bool [hand_size]: slots a hint touched
    last_card: jax.Array            # int8 []: card played or discarded, else -1
    last_scored: jax.Array          # bool []: the play succeeded
    last_information_gained: jax.Array  # bool []: the play completed a firework and won a token


class Move(NamedTuple):
    """An action id taken apart; fields that do not apply to its kind are meaningless."""

    is_discard: jax.Array
    is_play: jax.Array
    is_color_hint: jax.Array
    is_rank_hint: jax.Array
    slot: jax.Array     # play and discard
    offset: jax.Array   # hints: target seat minus acting seat, 1 to players - 1
    color: jax.Array    # colour hint
    rank: jax.Array     # rank hint


@_takes_config_spec
def decode_action(config: HanabiConfig, action: jax.Array) -> Move:
    """Splits an OpenSpiel action id into its kind and parameters."""
    c, r = config.colors, config.ranks
    layout = action_layout(config)
    action = jnp.asarray(action, jnp.int32)

    def within(ids: slice) -> jax.Array:
        return (action >= ids.start) & (action < ids.stop)

    color_index = action - layout.color_hint.start
    rank_index = action - layout.rank_hint.start
    is_color_hint = within(layout.color_hint)
    return Move(
        is_discard=within(layout.discard),
        is_play=within(layout.play),
        is_color_hint=is_color_hint,
        is_rank_hint=within(layout.rank_hint),
        slot=jnp.where(action < layout.play.start, action - layout.discard.start,
                       action - layout.play.start),
        offset=jnp.where(is_color_hint, color_index // c, rank_index // r) + 1,
        color=color_index % c,
        rank=rank_index % r,
    )


def _colors_of(config: HanabiConfig, cards: jax.Array) -> jax.Array:
    return cards // config.ranks


def _ranks_of(config: HanabiConfig, cards: jax.Array) -> jax.Array:
    return cards % config.ranks


def _full_mask(size: int) -> int:
    return (1 << size) - 1


@_takes_config_spec
def ordered_deck(config: HanabiConfig) -> np.ndarray:
    """Every card of the deck once, sorted by value: int8 [deck_size]."""
    return deck_values(config).astype(np.int8)


def _int8(value) -> jax.Array:
    return jnp.asarray(value, jnp.int8)


@_takes_config_spec
def reset_from_deck(config: HanabiConfig, deck: jax.Array) -> HanabiState:
    """Starts a game whose cards are dealt in the order of `deck` (int [deck_size] card values).

    `deck` must be a permutation of `ordered_deck(config)`; compiled code cannot check it
    (`games.hanabi.check_decks` does, outside `jit`).
    """
    p, h = config.players, config.hand_size
    deck = jnp.asarray(deck, jnp.int8)
    return HanabiState(
        deck=deck,
        cards_dealt=_int8(p * h),
        hands=deck[:p * h].reshape(p, h),
        color_plausible=jnp.full((p, h), _full_mask(config.colors), jnp.int8),
        rank_plausible=jnp.full((p, h), _full_mask(config.ranks), jnp.int8),
        color_revealed=jnp.zeros((p, h), bool),
        rank_revealed=jnp.zeros((p, h), bool),
        fireworks=jnp.zeros(config.colors, jnp.int8),
        discards=jnp.zeros(config.num_values, jnp.int8),
        information_tokens=jnp.asarray(config.max_information_tokens, jnp.int32),
        life_tokens=jnp.asarray(config.max_life_tokens, jnp.int32),
        current_player=_int8(0),
        turns_left=_int8(p),
        done=jnp.asarray(False),
        last_action=_int8(-1),
        last_player=_int8(-1),
        last_revealed=jnp.zeros(h, bool),
        last_card=_int8(_NO_CARD),
        last_scored=jnp.asarray(False),
        last_information_gained=jnp.asarray(False),
    )


@_takes_config_spec
def shuffled_deck(config: HanabiConfig, key: jax.Array) -> jax.Array:
    """A uniformly random deal order of the deck: int8 [deck_size].

    Each card draws 32 random bits and goes to the position given by how many cards drew less
    (ties, of probability about 3e-7 for 50 cards, broken by index). Counting pairs costs
    `deck_size ** 2` elementwise operations but no sort, which XLA runs far slower on CPU; that
    matters because a batch of games resetting automatically deals a deck every step.
    """
    bits = jax.random.bits(key, (config.deck_size,), jnp.uint32)
    index = jnp.arange(config.deck_size)
    earlier = ((bits[None, :] < bits[:, None])
               | ((bits[None, :] == bits[:, None]) & (index[None, :] < index[:, None])))
    position = jnp.sum(earlier, axis=1, dtype=jnp.int32)
    at_position = position[:, None] == index[None, :]
    return jnp.sum(jnp.where(at_position, ordered_deck(config)[:, None], 0), axis=0,
                   dtype=jnp.int8)


@_takes_config_spec
def reset(config: HanabiConfig, key: jax.Array) -> HanabiState:
    """Starts a game with a uniformly shuffled deck."""
    return reset_from_deck(config, shuffled_deck(config, key))


@_takes_config_spec
def score(config: HanabiConfig, state: HanabiState) -> jax.Array:
    """Cards on the fireworks, 0 once the life tokens are gone: int32 []."""
    played = jnp.sum(state.fireworks, dtype=jnp.int32)
    return jnp.where(state.life_tokens > 0, played, 0)


def _seat_mask(config: HanabiConfig, seat: jax.Array) -> jax.Array:
    return jnp.arange(config.players) == seat


def _hint_matches(config: HanabiConfig, hands: jax.Array, move: Move) -> jax.Array:
    """bool [players, hand_size]: the cards the hint in `move` would touch in any hand."""
    same = jnp.where(move.is_color_hint, _colors_of(config, hands) == move.color,
                     _ranks_of(config, hands) == move.rank)
    return same & (hands >= 0)


def _is_legal_move(config: HanabiConfig, state: HanabiState, move: Move) -> jax.Array:
    """Whether `move` is legal in `state`: bool [].

    The rules of `legal_actions_mask` for this one move; a hint is legal when it touches a card
    (`_hint_matches`, which applying the hint needs too). Looking the move up in the whole mask
    would cost `step` 7% more operations.
    """
    seat = _seat_mask(config, state.current_player)
    cards_held = jnp.sum((state.hands >= 0) & seat[:, None], dtype=jnp.int32)
    slot_ok = move.slot < cards_held
    target = _seat_mask(config, (state.current_player + move.offset) % config.players)
    hint_ok = (state.information_tokens > 0) & jnp.any(
        _hint_matches(config, state.hands, move) & target[:, None])
    legal = ((move.is_play & slot_ok)
             | (move.is_discard & slot_ok
                & (state.information_tokens < config.max_information_tokens))
             | ((move.is_color_hint | move.is_rank_hint) & hint_ok))
    return legal & ~state.done


def _apply_hint(config: HanabiConfig, state: HanabiState, move: Move,
                apply: jax.Array) -> HanabiState:
    """The state after the hint in `move` if `apply`, else `state`."""
    target = _seat_mask(config, (state.current_player + move.offset) % config.players)
    matches = _hint_matches(config, state.hands, move)
    touched = target[:, None] & matches & apply
    in_target = target[:, None] & apply
    color_bit = (jnp.int8(1) << move.color.astype(jnp.int8))
    rank_bit = (jnp.int8(1) << move.rank.astype(jnp.int8))
    color_hint = in_target & move.is_color_hint
    rank_hint = in_target & move.is_rank_hint
    return state._replace(
        color_plausible=jnp.where(
            color_hint, jnp.where(matches, color_bit, state.color_plausible & ~color_bit),
            state.color_plausible),
        rank_plausible=jnp.where(
            rank_hint, jnp.where(matches, rank_bit, state.rank_plausible & ~rank_bit),
            state.rank_plausible),
        color_revealed=state.color_revealed | (touched & move.is_color_hint),
        rank_revealed=state.rank_revealed | (touched & move.is_rank_hint),
        information_tokens=state.information_tokens - apply.astype(jnp.int8),
        last_revealed=jnp.where(apply, jnp.any(touched, axis=0), state.last_revealed),
    )


@_takes_config_spec
def step(config: HanabiConfig, state: HanabiState,
         action: jax.Array) -> tuple[HanabiState, jax.Array, jax.Array, dict[str, jax.Array]]:
    """Applies `action` for the current player.

    Returns:
      (next state, rewards float32 [players], done bool [], info) where info holds `score` (int32
      [], after the move) and `illegal_action` (bool []: the action was illegal and nothing
      changed; see the module docstring).
    """
    move = decode_action(config, action)
    legal = _is_legal_move(config, state, move)
    p, c, v = config.players, config.colors, config.num_values
    seat = _seat_mask(config, state.current_player)
    slot = jnp.arange(config.hand_size) == move.slot
    removes = (move.is_play | move.is_discard) & legal

    card = jnp.sum(jnp.where(seat[:, None] & slot, state.hands, 0), dtype=jnp.int32)
    card = jnp.where(removes, card, _NO_CARD)
    card_color = _colors_of(config, card)
    card_rank = _ranks_of(config, card)
    color_mask = jnp.arange(c) == card_color
    played_so_far = jnp.sum(jnp.where(color_mask, state.fireworks, 0), dtype=jnp.int32)
    scored = move.is_play & removes & (played_so_far == card_rank)
    lost_life = move.is_play & removes & ~scored
    completes = scored & (card_rank == config.ranks - 1)
    information_gained = completes & (state.information_tokens < config.max_information_tokens)

    hinted = _apply_hint(config, state, move, legal & (move.is_color_hint | move.is_rank_hint))
    fireworks = state.fireworks + (color_mask & scored).astype(jnp.int8)
    life_tokens = state.life_tokens - lost_life.astype(jnp.int8)
    deck_was_empty = state.cards_dealt >= config.deck_size
    turns_left = state.turns_left - (legal & deck_was_empty).astype(jnp.int8)
    done = ((life_tokens <= 0) | (jnp.sum(fireworks, dtype=jnp.int32) == config.max_score)
            | (turns_left <= 0))

    deals = removes & ~done & ~deck_was_empty
    next_card = jnp.sum(jnp.where(jnp.arange(config.deck_size) == state.cards_dealt, state.deck, 0),
                        dtype=jnp.int8)
    fill_card = jnp.where(deals, next_card, jnp.int8(_NO_CARD))
    in_row = seat[:, None] & removes

    def remove(values: jax.Array, fill) -> jax.Array:
        return jnp.where(in_row, remove_slot(values, move.slot, fill), values)

    information_tokens = (hinted.information_tokens
                          + (move.is_discard & removes).astype(jnp.int8)
                          + information_gained.astype(jnp.int8))
    new_state = hinted._replace(
        cards_dealt=state.cards_dealt + deals.astype(jnp.int8),
        hands=remove(state.hands, fill_card),
        color_plausible=remove(hinted.color_plausible, _full_mask(c)),
        rank_plausible=remove(hinted.rank_plausible, _full_mask(config.ranks)),
        color_revealed=remove(hinted.color_revealed, False),
        rank_revealed=remove(hinted.rank_revealed, False),
        fireworks=fireworks,
        discards=state.discards + ((jnp.arange(v) == card) & removes & ~scored).astype(jnp.int8),
        information_tokens=information_tokens,
        life_tokens=life_tokens,
        current_player=jnp.where(legal, (state.current_player + 1) % p,
                                 state.current_player).astype(jnp.int8),
        turns_left=turns_left,
        done=state.done | (legal & done),
        last_action=jnp.where(legal, jnp.asarray(action, jnp.int8), state.last_action),
        last_player=jnp.where(legal, state.current_player, state.last_player),
        last_revealed=jnp.where(removes, False, hinted.last_revealed),
        last_card=jnp.where(legal, card, state.last_card).astype(jnp.int8),
        last_scored=jnp.where(legal, scored, state.last_scored),
        last_information_gained=jnp.where(legal, information_gained,
                                          state.last_information_gained),
    )
    new_score = score(config, new_state)
    reward = (new_score - score(config, state)).astype(jnp.float32)
    info = {"score": new_score, "illegal_action": ~legal}
    return new_state, jnp.full(p, reward), new_state.done, info


def checked_step(config: ConfigSpec, state: HanabiState, action: int):
    """`step` for one game outside `jit`, raising a `ValueError` on bad input.

    Raises:
      ValueError: a state whose arrays do not fit `config` (a state of another config, or a
        batch), an action that is not an int (nor a 0-d integer array), or an illegal action.
    """
    config = as_config(config)
    _check_state(config, state)
    action = _check_action(action)
    mask = np.asarray(legal_actions_mask(config, state))
    if not (0 <= action < config.num_actions and mask[action]):
        legal = np.flatnonzero(mask).tolist()
        raise ValueError(f"hanabi action {action} is illegal here; legal actions: {legal}.")
    return step(config, state, action)


@functools.lru_cache(maxsize=None)
def _state_shapes(config: HanabiConfig) -> HanabiState:
    """The shape of every field of a state of `config`."""
    shapes = jax.eval_shape(lambda: reset_from_deck(config, ordered_deck(config)))
    return HanabiState(*(leaf.shape for leaf in shapes))


def _check_state(config: HanabiConfig, state: HanabiState) -> None:
    if not isinstance(state, HanabiState):
        raise ValueError(f"hanabi state must be a HanabiState, got {type(state).__name__}.")
    for name, expected, value in zip(HanabiState._fields, _state_shapes(config), state):
        if np.shape(value) != expected:
            raise ValueError(
                f"hanabi state field '{name}' has shape {np.shape(value)} but a game of {config} "
                f"has {expected}: is the state from another config, or a batch?")


def _check_action(action: Any) -> int:
    """`action` as an int, if it is an int or a 0-d integer array (not a bool)."""
    if isinstance(action, (int, np.integer)) and not isinstance(action, (bool, np.bool_)):
        return int(action)
    if isinstance(action, (np.ndarray, jax.Array)):
        if action.shape == () and action.dtype.kind in "iu":
            return int(action)
        raise ValueError(f"hanabi action must be an int or a 0-d integer array, got a "
                         f"{action.dtype} array of shape {action.shape}.")
    raise ValueError(f"hanabi action must be an int or a 0-d integer array, got "
                     f"{repr(action)[:40]}.")


@_takes_config_spec
def legal_actions_mask(config: HanabiConfig, state: HanabiState) -> jax.Array:
    """bool [num_actions]: the legal actions of the current player, all False once done."""
    seat = _seat_mask(config, state.current_player)
    cards_held = jnp.sum((state.hands >= 0) & seat[:, None], dtype=jnp.int32)
    partner_hands = relative_rows(state.hands, state.current_player)[1:]
    mask = legal_actions(config, cards_held, state.information_tokens, partner_hands)
    return mask & ~state.done


def _bits(mask: jax.Array, size: int) -> jax.Array:
    """bool [..., size]: the low `size` bits of an integer mask."""
    return ((mask[..., None] >> jnp.arange(size, dtype=mask.dtype)) & 1).astype(bool)


def _plausible(config: HanabiConfig, hands: jax.Array, color_plausible: jax.Array,
               rank_plausible: jax.Array) -> jax.Array:
    """bool [..., num_values] from the per-slot colour and rank bitmasks; empty slots 0."""
    colors = _bits(color_plausible, config.colors)
    ranks = _bits(rank_plausible, config.ranks)
    plausible = (colors[..., :, None] & ranks[..., None, :]).reshape(
        *hands.shape, config.num_values)
    return plausible & (hands >= 0)[..., None]


@_takes_config_spec
def card_knowledge(config: HanabiConfig, state: HanabiState) -> jax.Array:
    """bool [players, hand_size, num_values]: card values each slot's hints allow; empty slots 0."""
    return _plausible(config, state.hands, state.color_plausible, state.rank_plausible)


@_takes_config_spec
def remaining_counts(config: HanabiConfig, state: HanabiState) -> jax.Array:
    """int32 [num_values]: copies not yet discarded or played (in the deck or in some hand)."""
    return _remaining_counts(config, state.fireworks, state.discards)


_EQUALS, _GREATER, _HAS_BIT = range(3)


class _Encoding(NamedTuple):
    """Bit `i` of the observation is `test[i]` applied to feature `source[i]` and `constant[i]`."""

    source: np.ndarray
    test: np.ndarray
    constant: np.ndarray


@functools.lru_cache(maxsize=None)
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
    encode(layout.missing_cards, last_slots + np.arange(p), _EQUALS, _NO_CARD)
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
    # Per slot three features: the plausible values mask, the hinted colour and the hinted rank.
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
    """int32 [10]: the last move's mover, kind, target, colour, rank, touched slots (bitmask),
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
                  _colors_of(config, hands), -1),
        jnp.where(relative_rows(state.rank_revealed, player) & valid,
                  _ranks_of(config, hands), -1),
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


@_takes_config_spec
def observation(config: HanabiConfig, state: HanabiState, player: jax.Array,
                dtype=jnp.float32) -> jax.Array:
    """OpenSpiel's `observation_tensor(player)`: [observation_size] of 0/1 in `dtype`."""
    encoding = _encoding(config)
    values = _features(config, state, player)[encoding.source]
    bits = jnp.where(
        encoding.test == _EQUALS, values == encoding.constant,
        jnp.where(encoding.test == _GREATER, values > encoding.constant,
                  ((values >> np.maximum(encoding.constant, 0)) & 1) == 1))
    return bits.astype(dtype)


@_takes_config_spec
def private_observation(config: HanabiConfig, state: HanabiState, player: jax.Array,
                        dtype=jnp.float32) -> jax.Array:
    """The other players' cards as `player` sees them: the first `private_size` entries."""
    return observation(config, state, player, dtype)[observation_layout(config).private]


@_takes_config_spec
def public_observation(config: HanabiConfig, state: HanabiState, player: jax.Array,
                       dtype=jnp.float32) -> jax.Array:
    """Everything of the observation but the other players' cards: [public_size]."""
    return observation(config, state, player, dtype)[observation_layout(config).public]


@_takes_config_spec
def auto_reset_step(config: HanabiConfig, state: HanabiState, action: jax.Array,
                    key: jax.Array) -> tuple[HanabiState, jax.Array, jax.Array, dict[str, jax.Array]]:
    """`step`, then a freshly dealt game (from `key`) in place of a game that just ended.

    The rewards, done and `info["score"]` describe the move just made (so the finished game on
    its last move); the returned state is the next game's.
    """
    next_state, rewards, done, info = step(config, state, action)
    fresh = reset(config, key)
    next_state = jax.tree.map(lambda new, old: jnp.where(done, new, old), fresh, next_state)
    return next_state, rewards, done, info


@_takes_config_spec
def reset_batch(config: HanabiConfig, key: jax.Array, batch_size: int) -> HanabiState:
    """`batch_size` new games; game `i` is dealt from `jax.random.fold_in(key, i)`."""
    return jax.vmap(lambda i: reset(config, jax.random.fold_in(key, i)))(jnp.arange(batch_size))


@_takes_config_spec
def step_batch(config: HanabiConfig, state: HanabiState, actions: jax.Array, key: jax.Array,
               max_resets: int | None = None
               ) -> tuple[HanabiState, jax.Array, jax.Array, dict[str, jax.Array]]:
    """`auto_reset_step` over a batch of games (leading axis), cheaper than vmapping it.

    Game `i`, if it ends on this move, is replaced by a game dealt from
    `jax.random.fold_in(key, i)`. Only the games that ended are dealt: up to `max_resets` (default
    an eighth of the batch) through a gather and a scatter, more through dealing every game. The
    rewards [batch, players], done [batch] and info describe the moves just made.
    """
    state, rewards, done, info = jax.vmap(lambda s, a: step(config, s, a))(state, actions)
    batch_size = done.shape[0]
    max_resets = max(1, batch_size // 8) if max_resets is None else max_resets

    def deal(games: jax.Array) -> HanabiState:
        return jax.vmap(lambda i: reset(config, jax.random.fold_in(key, i)))(games)

    def reset_some() -> HanabiState:
        games = jnp.nonzero(done, size=max_resets, fill_value=batch_size)[0]
        return jax.tree.map(lambda old, new: old.at[games].set(new, mode="drop"), state,
                            deal(games))

    def reset_all() -> HanabiState:
        fresh = deal(jnp.arange(batch_size))
        return jax.tree.map(
            lambda old, new: jnp.where(done.reshape((-1,) + (1,) * (old.ndim - 1)), new, old),
            state, fresh)

    state = jax.lax.cond(jnp.sum(done) <= max_resets, reset_some, reset_all)
    return state, rewards, done, info


class BatchedHanabi:
    """A batch of games stepped together (`step_batch`), sharded over devices.

    The batch axis is split over `devices` (all of `jax.devices()` by default) with a
    `NamedSharding`; the batch size must be a multiple of the number of devices.
    """

    def __init__(self, config: HanabiConfig, batch_size: int, devices=None):
        devices = list(jax.devices() if devices is None else devices)
        if batch_size % len(devices):
            raise ValueError(f"batch_size {batch_size} is not a multiple of the "
                             f"{len(devices)} devices it is split over.")
        self.config = config
        self.batch_size = batch_size
        self.sharding = NamedSharding(Mesh(np.array(devices), ("games",)), PartitionSpec("games"))
        self._reset = jax.jit(lambda k: reset_batch(config, k, batch_size),
                              out_shardings=self.sharding)
        self._step = jax.jit(lambda s, a, k: step_batch(config, s, a, k),
                             out_shardings=self.sharding)
        self._legal = jax.jit(jax.vmap(lambda s: legal_actions_mask(config, s)))
        self._observations = jax.jit(jax.vmap(lambda s: jax.vmap(
            lambda p: observation(config, s, p))(jnp.arange(config.players))))

    def reset(self, key: jax.Array) -> HanabiState:
        """`batch_size` new games (`reset_batch`), sharded over the devices."""
        return self._reset(key)

    def step(self, state: HanabiState, actions: jax.Array, key: jax.Array):
        """`step_batch`: actions int [batch]; returns (state, rewards, done, info), sharded."""
        return self._step(state, jax.device_put(jnp.asarray(actions), self.sharding), key)

    def legal_actions_mask(self, state: HanabiState) -> jax.Array:
        """bool [batch, num_actions]."""
        return self._legal(state)

    def observations(self, state: HanabiState) -> jax.Array:
        """float32 [batch, players, observation_size]: every player's observation."""
        return self._observations(state)
