"""Hanabi: its rules, its observation and action layouts, and three ways to play it.

* `config`: presets (`full`, `small`, `very_small`), parameter validation (`make_config`) and the
  feature definitions every backend shares.
* `layout`: where each field lies in the canonical observation and among the action ids.
* `rules`: the rules as array functions for numpy and `jax.numpy` (copies per value, card status,
  legal hints, seat rotation, slot removal); `views`: another seat's view of the public part.
* `batched` (re-exported here: `games.hanabi.HanabiGame`): batched games behind one numpy
  interface, through OpenSpiel or the Hanabi Learning Environment (`backends`), with the features
  read from the canonical observation by `decoders`.
* `jax_game`: pure-JAX Hanabi for jitted self-play, step for step identical to OpenSpiel's, with
  its state in `jax_state` and its observation encoder in `jax_observation`.
"""

from games.hanabi.batched import (
    BACKENDS,
    HanabiGame,
    HanabiStep,
    check_decks,
    play_random,
    random_decks,
    random_legal_actions,
)

__all__ = ["BACKENDS", "HanabiGame", "HanabiStep", "check_decks", "play_random", "random_decks",
           "random_legal_actions"]
