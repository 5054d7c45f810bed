"""Pure-JAX Hanabi, step for step identical to OpenSpiel's `hanabi` (the Hanabi Learning Env.).

Every function takes the static `HanabiConfig` first (hashable: pass it as a static argument to
`jax.jit`), or anything `make_config` takes (a preset name, a parameter dict), converted in Python
before any array work. Most work on one game, for `jax.vmap`: `reset`, `reset_from_deck`, `step`,
`checked_step` (not jittable), `legal_actions_mask`, `observation`, `public_observation`,
`private_observation`, `card_knowledge`, `remaining_counts`, `score`, `decode_action`.
(The observation functions live in `games.hanabi.jax_observation`, the rules shared with the
other backends in `games.hanabi.rules`.) `reset_batch` and `step_batch` work on a batch (leading
axis) and replace finished games by newly dealt ones; `auto_reset_step` does that for one game
under `vmap`, at the cost of dealing a deck for every game at every step. `BatchedHanabi` jits
the batch functions and shards the batch over `jax.devices()`.

Conventions, all OpenSpiel's and HLE's:

* Card values are `color * ranks + rank`; OpenSpiel's chance action for dealing a card is its
  value.
* The deck is a deal order (`reset_from_deck` takes one). The initial hands are dealt player by
  player, player 0 first, each hand filled from slot 0 up. A played or discarded card leaves its
  slot, the cards above it move down one slot and the replacement (the next card of the deck)
  goes to the last slot. No card is dealt after the move that ends the game, nor once the deck is
  empty (hands then shrink; their empty slots are the last ones).
* Action ids are HLE's move uids, laid out by `games.hanabi.layout.action_layout`: discards,
  plays, then color and rank hints by target offset. Player 0 starts.
* The score is the number of cards on the fireworks, or 0 once the last life token is lost. The
  reward of a move, the same for every player, is the change in score (so losing the last life
  gives minus the score reached). The game ends when the life tokens run out, when every firework
  is complete, or once every player has made one more move after the deck ran out.
* `observation(config, state, p)` is OpenSpiel's `observation_tensor(p)`: HLE's canonical encoding
  (other hands, missing-card flags, board, discards, last action, card knowledge), seats relative
  to `p`, laid out by `games.hanabi.layout.observation_layout`. `hanabi_config` documents the
  public/private split, the public card knowledge and the remaining card counts.

Compiled code cannot raise, so `step` treats an illegal action (a hint that touches no card, a
discard with all information tokens, an empty slot, an id out of range, any move once the game is
over) as a no-op: the state is returned unchanged, the rewards are 0 and `info["illegal_action"]`
is True. `checked_step` is the non-jitted variant that raises a `ValueError` instead (also for
an action that is not an integer and for a state that does not fit the config).
"""

from __future__ import annotations

import functools
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh
from jax.typing import ArrayLike

from games.hanabi.config import ConfigSpec, HanabiConfig, accepts_config_spec, as_config
from games.hanabi.jax_observation import (
    card_knowledge,
    observation,
    private_observation,
    public_observation,
)
from games.hanabi.jax_state import HanabiState
from games.hanabi.rules import (
    NO_CARD,
    Move,
    card_colors,
    card_ranks,
    deck_values,
    legal_actions,
    relative_rows,
    remove_slot,
)
from games.hanabi.rules import decode_action as _decode_action
from games.hanabi.rules import remaining_counts as _remaining_counts
from infra.devices import batch_sharding, data_mesh

decode_action = accepts_config_spec(_decode_action)

__all__ = [
    "BatchedHanabi", "HanabiState", "Move", "auto_reset_step", "card_knowledge", "checked_step",
    "decode_action", "legal_actions_mask", "observation", "ordered_deck", "private_observation",
    "public_observation", "remaining_counts", "reset", "reset_batch", "reset_from_deck", "score",
    "shuffled_deck", "step", "step_batch",
]


def _full_mask(size: int) -> int:
    return (1 << size) - 1


@accepts_config_spec
def ordered_deck(config: HanabiConfig) -> np.ndarray:
    """Every card of the deck once, sorted by value: int8 [deck_size]."""
    return deck_values(config).astype(np.int8)


def _int8(value) -> jax.Array:
    return jnp.asarray(value, jnp.int8)


@accepts_config_spec
def reset_from_deck(config: HanabiConfig, deck: ArrayLike) -> HanabiState:
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
        last_card=_int8(NO_CARD),
        last_scored=jnp.asarray(False),
        last_information_gained=jnp.asarray(False),
    )


@accepts_config_spec
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


@accepts_config_spec
def reset(config: HanabiConfig, key: jax.Array) -> HanabiState:
    """Starts a game with a uniformly shuffled deck."""
    return reset_from_deck(config, shuffled_deck(config, key))


@accepts_config_spec
def score(config: HanabiConfig, state: HanabiState) -> jax.Array:
    """Cards on the fireworks, 0 once the life tokens are gone: int32 []."""
    played = jnp.sum(state.fireworks, dtype=jnp.int32)
    return jnp.where(state.life_tokens > 0, played, 0)


def _seat_mask(config: HanabiConfig, seat: jax.Array) -> jax.Array:
    return jnp.arange(config.players) == seat


def _hint_matches(config: HanabiConfig, hands: jax.Array, move: Move) -> jax.Array:
    """bool [players, hand_size]: the cards the hint in `move` would touch in any hand."""
    same = jnp.where(move.is_color_hint, card_colors(config, hands) == move.color,
                     card_ranks(config, hands) == move.rank)
    return same & (hands >= 0)


def _is_legal_move(config: HanabiConfig, state: HanabiState, move: Move,
                   matches: jax.Array) -> jax.Array:
    """Whether `move` is legal in `state`: bool [].

    The rules of `legal_actions_mask` for this one move; a hint is legal when it touches a card
    (`matches`, the move's `_hint_matches`, which applying the hint needs too). Looking the move
    up in the whole mask would cost `step` 7% more operations.
    """
    seat = _seat_mask(config, state.current_player)
    cards_held = jnp.sum((state.hands >= 0) & seat[:, None], dtype=jnp.int32)
    slot_ok = move.slot < cards_held
    target = _seat_mask(config, (state.current_player + move.offset) % config.players)
    hint_ok = (state.information_tokens > 0) & jnp.any(matches & target[:, None])
    legal = ((move.is_play & slot_ok)
             | (move.is_discard & slot_ok
                & (state.information_tokens < config.max_information_tokens))
             | ((move.is_color_hint | move.is_rank_hint) & hint_ok))
    return legal & ~state.done


def _apply_hint(config: HanabiConfig, state: HanabiState, move: Move, matches: jax.Array,
                apply: jax.Array) -> HanabiState:
    """The state after the hint in `move` (touching `matches`) if `apply`, else `state`."""
    target = _seat_mask(config, (state.current_player + move.offset) % config.players)
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


@accepts_config_spec
def step(config: HanabiConfig, state: HanabiState,
         action: ArrayLike) -> tuple[HanabiState, jax.Array, jax.Array, dict[str, jax.Array]]:
    """Applies `action` for the current player.

    Returns:
      (next state, rewards float32 [players], done bool [], info) where info holds `score` (int32
      [], after the move) and `illegal_action` (bool []: the action was illegal and nothing
      changed; see the module docstring).
    """
    move = decode_action(config, jnp.asarray(action, jnp.int32))
    matches = _hint_matches(config, state.hands, move)
    legal = _is_legal_move(config, state, move, matches)
    p, c, v = config.players, config.colors, config.num_values
    seat = _seat_mask(config, state.current_player)
    slot = jnp.arange(config.hand_size) == move.slot
    removes = (move.is_play | move.is_discard) & legal

    card = jnp.sum(jnp.where(seat[:, None] & slot, state.hands, 0), dtype=jnp.int32)
    card = jnp.where(removes, card, NO_CARD)
    card_color = card_colors(config, card)
    card_rank = card_ranks(config, card)
    color_mask = jnp.arange(c) == card_color
    played_so_far = jnp.sum(jnp.where(color_mask, state.fireworks, 0), dtype=jnp.int32)
    scored = move.is_play & removes & (played_so_far == card_rank)
    lost_life = move.is_play & removes & ~scored
    completes = scored & (card_rank == config.ranks - 1)
    information_gained = completes & (state.information_tokens < config.max_information_tokens)

    hinted = _apply_hint(config, state, move, matches,
                         legal & (move.is_color_hint | move.is_rank_hint))
    fireworks = state.fireworks + (color_mask & scored).astype(jnp.int8)
    life_tokens = state.life_tokens - lost_life.astype(jnp.int8)
    deck_was_empty = state.cards_dealt >= config.deck_size
    turns_left = state.turns_left - (legal & deck_was_empty).astype(jnp.int8)
    done = ((life_tokens <= 0) | (jnp.sum(fireworks, dtype=jnp.int32) == config.max_score)
            | (turns_left <= 0))

    deals = removes & ~done & ~deck_was_empty
    next_card = jnp.sum(jnp.where(jnp.arange(config.deck_size) == state.cards_dealt, state.deck, 0),
                        dtype=jnp.int8)
    fill_card = jnp.where(deals, next_card, jnp.int8(NO_CARD))
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


@functools.cache
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


@accepts_config_spec
def legal_actions_mask(config: HanabiConfig, state: HanabiState) -> jax.Array:
    """bool [num_actions]: the legal actions of the current player, all False once done."""
    seat = _seat_mask(config, state.current_player)
    cards_held = jnp.sum((state.hands >= 0) & seat[:, None], dtype=jnp.int32)
    partner_hands = relative_rows(state.hands, state.current_player)[1:]
    mask = legal_actions(config, cards_held, state.information_tokens, partner_hands)
    return mask & ~state.done


@accepts_config_spec
def remaining_counts(config: HanabiConfig, state: HanabiState) -> jax.Array:
    """int32 [num_values]: copies not yet discarded or played (in the deck or in some hand)."""
    return _remaining_counts(config, state.fireworks, state.discards)


@accepts_config_spec
def auto_reset_step(config: HanabiConfig, state: HanabiState, action: jax.Array, key: jax.Array
                    ) -> tuple[HanabiState, jax.Array, jax.Array, dict[str, jax.Array]]:
    """`step`, then a freshly dealt game (from `key`) in place of a game that just ended.

    The rewards, done and `info["score"]` describe the move just made (so the finished game on
    its last move); the returned state is the next game's.
    """
    next_state, rewards, done, info = step(config, state, action)
    fresh = reset(config, key)
    next_state = jax.tree.map(lambda new, old: jnp.where(done, new, old), fresh, next_state)
    return next_state, rewards, done, info


@accepts_config_spec
def reset_batch(config: HanabiConfig, key: jax.Array, batch_size: int) -> HanabiState:
    """`batch_size` new games; game `i` is dealt from `jax.random.fold_in(key, i)`."""
    return jax.vmap(lambda i: reset(config, jax.random.fold_in(key, i)))(jnp.arange(batch_size))


@accepts_config_spec
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

    The batch axis is split over the devices of `mesh` (`infra.devices.data_mesh`, the
    project's one mesh helper; by default over `devices`, all of `jax.devices()`); the batch size
    must be a multiple of the number of devices.
    """

    def __init__(self, config: ConfigSpec, batch_size: int, devices=None, mesh: Mesh | None = None):
        config = as_config(config)
        mesh = data_mesh(devices) if mesh is None else mesh
        if batch_size % mesh.devices.size:
            raise ValueError(f"batch_size {batch_size} is not a multiple of the "
                             f"{mesh.devices.size} devices it is split over.")
        self.config = config
        self.batch_size = batch_size
        self.sharding = batch_sharding(mesh)
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
