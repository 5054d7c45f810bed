"""Game adapters for the Bayesian Action Decoder and friends.

* `games.hanabi_config`: Hanabi presets (`full`, `small`, `very_small`), parameter validation
  (`make_config`) and the feature definitions every Hanabi backend shares.
* `games.hanabi_layout`: where each field lies in the canonical observation and among the action
  ids, one named slice per field.
* `games.hanabi_rules`: the rules as array functions for numpy and `jax.numpy` (copies per value,
  card status, legal hints, seat rotation, slot removal) and the observation decoders.
* `games.hanabi`: batched Hanabi behind one numpy interface, through OpenSpiel's `hanabi` game or
  the Hanabi Learning Environment (`HanabiGame(spec, num_games, seed, backend)`), with public and
  private observations, card knowledge and remaining card counts; `play_random` for a quick look.
* `games.hanabi_jax`: pure-JAX Hanabi for jitted self-play, step for step identical to OpenSpiel's
  (its observation encoder in `games.hanabi_jax_observation`).
* `games.tiny_hanabi`: OpenSpiel's `tiny_hanabi`, BAD's two-step matrix game, and normal-form
  matrix games.

Bad input (an unknown game or preset, a parameter of the wrong type or range, an illegal action)
raises a `ValueError` in one sentence; the C++ games are never handed anything they would abort on.
"""
