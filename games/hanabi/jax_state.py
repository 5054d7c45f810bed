"""`HanabiState`, one game of the pure-JAX Hanabi (`games.hanabi.jax_game`).

The state type sits below the modules that read it (`games.hanabi.jax_game`, which re-exports it,
and `games.hanabi.jax_observation`), so neither imports the other for it.
"""

from __future__ import annotations

from typing import NamedTuple

import jax


class HanabiState(NamedTuple):
    """One game. Card values are int8, `-1` marks an empty hand slot or a missing entry."""

    deck: jax.Array                 # int8 [deck_size]: card values in deal order
    cards_dealt: jax.Array          # int8 []: cards of `deck` dealt so far
    hands: jax.Array                # int8 [players, hand_size]: card values, absolute seats
    color_plausible: jax.Array      # int8 [players, hand_size]: bit c set if color c is possible
    rank_plausible: jax.Array       # int8 [players, hand_size]: bit r set if rank r is possible
    color_revealed: jax.Array       # bool [players, hand_size]: the card's color was hinted
    rank_revealed: jax.Array        # bool [players, hand_size]: the card's rank was hinted
    fireworks: jax.Array            # int8 [colors]: cards played of each color
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
