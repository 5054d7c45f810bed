"""Game adapters for the Bayesian Action Decoder and friends.

* `games.hanabi`: Hanabi, one module per job (see its docstring): presets and validation
  (`config`), observation and action layouts (`layout`), the rules as array functions (`rules`),
  batched games through OpenSpiel or the Hanabi Learning Environment (`HanabiGame`), and a
  pure-JAX Hanabi for jitted self-play (`jax_game`), step for step identical to OpenSpiel's.
* `games.tiny_hanabi`: OpenSpiel's `tiny_hanabi`, BAD's two-step matrix game, and normal-form
  matrix games.

Bad input (an unknown game or preset, a parameter of the wrong type or range, an illegal action)
raises a `ValueError` in one sentence; the C++ games are never handed anything they would abort on.
"""
