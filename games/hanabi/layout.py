"""Where each fact lies in Hanabi's canonical observation and among its action ids.

The one definition of both layouts; everything else in `games/` (and beyond) reads offsets from
here. `observation_layout(config)` names every section of the Hanabi Learning Environment's
canonical observation (OpenSpiel's `observation_tensor(p)`), every field of its board and
last-action sections, the card-knowledge block of each card and the private/public split;
`action_layout(config)` names the ranges of discard, play, color-hint and rank-hint action ids.

Seats in the observation are relative to the observer: offset 0 is the observer, offset `o` the
player `o` seats to its left. Card values are `color * ranks + rank`. A "thermometer" of a count
`n` sets its first `n` bits; a "one-hot" field is all zeros when the fact does not apply (a
last-action field of another kind of move, an empty hand slot, no move made yet).

Both functions take a `games.hanabi.config.HanabiConfig` (anything with the sizes of
`GameSizes`) and are cached per config.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Mapping
from typing import Protocol


class GameSizes(Protocol):
    """What the layouts read of a game's parameters (`games.hanabi.config.HanabiConfig`, which
    derives its sizes from this module, so this one cannot import it)."""

    @property
    def players(self) -> int: ...
    @property
    def colors(self) -> int: ...
    @property
    def ranks(self) -> int: ...
    @property
    def hand_size(self) -> int: ...
    @property
    def max_information_tokens(self) -> int: ...
    @property
    def max_life_tokens(self) -> int: ...
    @property
    def num_values(self) -> int: ...
    @property
    def deck_size(self) -> int: ...

# The order of the last-action section's move-type bits (HLE's `HanabiMove::Type` order).
MOVE_TYPES = ("play", "discard", "reveal_color", "reveal_rank")

SECTIONS = ("hands", "board", "discards", "last_action", "card_knowledge")


@dataclasses.dataclass(frozen=True)
class ObservationLayout:
    """Slices of the canonical observation [size] (`knowledge_*` lie within one card's block)."""

    # The hands section: what the observer sees of the hands.
    hands: slice
    # Per partner (offsets 1 to players - 1) and hand slot, the card's value one-hot.
    partner_cards: slice
    # Per player (offset 0 first), 1 when its hand is one card short (the deck has run out).
    missing_cards: slice

    # The board section.
    board: slice
    # Thermometer of the cards left in the deck (deck_size - players * hand_size bits).
    deck: slice
    # Per color, the highest rank played one-hot over the ranks (all zeros: none played).
    fireworks: slice
    # Thermometer of the information tokens left (max_information_tokens bits).
    information_tokens: slice
    # Thermometer of the life tokens left (max_life_tokens bits).
    life_tokens: slice

    # The discards section: per card value, a thermometer over its copies of how many were
    # discarded or misplayed (deck_size bits, the values in order).
    discards: slice

    # The last-action section, all zeros before the first move.
    last_action: slice
    # Offset of the player who moved, one-hot.
    last_player: slice
    # The move's type, one-hot in the order of `MOVE_TYPES`.
    last_move_type: slice
    # Hints: offset of the hinted player, one-hot.
    last_target: slice
    # Color hints: the color, one-hot.
    last_color: slice
    # Rank hints: the rank, one-hot.
    last_rank: slice
    # Hints: per slot of the hinted hand, 1 when the hint touched that card.
    last_revealed: slice
    # Plays and discards: the slot the card left, one-hot.
    last_slot: slice
    # Plays and discards: the card's value, one-hot.
    last_card: slice
    # Plays: 1 when the card was added to the fireworks.
    last_scored: slice
    # Plays: 1 when the card completed a firework and won back an information token.
    last_added_token: slice

    # The card-knowledge section: per player (offset 0 first) and hand slot, one block of
    # `knowledge_width` bits, all zeros for an empty slot.
    card_knowledge: slice
    knowledge_width: int
    # Within a block: per card value, 1 where the hints the card received allow it (HLE's
    # "plausible" bits, which ignore card counts).
    knowledge_plausible: slice
    # Within a block: the card's color one-hot, once a hint revealed it.
    knowledge_color: slice
    # Within a block: the card's rank one-hot, once a hint revealed it.
    knowledge_rank: slice

    # The private observation: the partners' cards (`partner_cards`); the rest is public, the
    # same for every observer up to the seat rotation.
    private: slice
    public: slice
    size: int

    @property
    def sections(self) -> Mapping[str, slice]:
        """The five sections, in order."""
        return types.MappingProxyType({name: getattr(self, name) for name in SECTIONS})

    def in_public(self, field: slice) -> slice:
        """Where a field of the public part lies in the public observation."""
        if field.start < self.public.start:
            raise ValueError(f"observation field {field} is not part of the public observation.")
        shift = self.public.start
        return slice(field.start - shift, field.stop - shift)


@dataclasses.dataclass(frozen=True)
class ActionLayout:
    """Ranges of action ids (HLE's move uids), in increasing order of id."""

    # Discard slot `s`: `discard.start + s`.
    discard: slice
    # Play slot `s`: `play.start + s`.
    play: slice
    # Hint color `c` to the player `o` seats to the left: `color_hint.start + (o - 1) * colors
    # + c`.
    color_hint: slice
    # Hint rank `r` to the player `o` seats to the left: `rank_hint.start + (o - 1) * ranks + r`.
    rank_hint: slice
    size: int

    @property
    def hints(self) -> slice:
        """Every hint: the color hints, then the rank hints."""
        return slice(self.color_hint.start, self.rank_hint.stop)


class _Cursor:
    """Hands out consecutive slices."""

    def __init__(self) -> None:
        self.position = 0

    def take(self, size: int) -> slice:
        self.position += size
        return slice(self.position - size, self.position)


def _span(first: slice, last: slice) -> slice:
    return slice(first.start, last.stop)


@functools.cache
def observation_layout(config: GameSizes) -> ObservationLayout:
    """The canonical observation's layout for `config`."""
    p, h, c, r = config.players, config.hand_size, config.colors, config.ranks
    v = config.num_values
    cursor = _Cursor()
    fields = dict(
        partner_cards=cursor.take((p - 1) * h * v),
        missing_cards=cursor.take(p),
        deck=cursor.take(config.deck_size - p * h),
        fireworks=cursor.take(c * r),
        information_tokens=cursor.take(config.max_information_tokens),
        life_tokens=cursor.take(config.max_life_tokens),
        discards=cursor.take(config.deck_size),
        last_player=cursor.take(p),
        last_move_type=cursor.take(len(MOVE_TYPES)),
        last_target=cursor.take(p),
        last_color=cursor.take(c),
        last_rank=cursor.take(r),
        last_revealed=cursor.take(h),
        last_slot=cursor.take(h),
        last_card=cursor.take(v),
        last_scored=cursor.take(1),
        last_added_token=cursor.take(1),
    )
    block = _Cursor()
    knowledge = dict(knowledge_plausible=block.take(v), knowledge_color=block.take(c),
                     knowledge_rank=block.take(r))
    card_knowledge = cursor.take(p * h * block.position)
    size = cursor.position
    return ObservationLayout(
        hands=_span(fields["partner_cards"], fields["missing_cards"]),
        board=_span(fields["deck"], fields["life_tokens"]),
        last_action=_span(fields["last_player"], fields["last_added_token"]),
        card_knowledge=card_knowledge,
        knowledge_width=block.position,
        private=fields["partner_cards"],
        public=slice(fields["partner_cards"].stop, size),
        size=size,
        **fields,
        **knowledge,
    )


@functools.cache
def action_layout(config: GameSizes) -> ActionLayout:
    """The action ids' layout for `config`."""
    others = config.players - 1
    cursor = _Cursor()
    return ActionLayout(
        discard=cursor.take(config.hand_size),
        play=cursor.take(config.hand_size),
        color_hint=cursor.take(others * config.colors),
        rank_hint=cursor.take(others * config.ranks),
        size=cursor.position,
    )
