"""The Bayesian Action Decoder (Foerster et al., ICML 2019): beliefs, partial policies, learners.

BAD conditions every decision on the public belief over all private information. A public agent
that sees only public features samples a deterministic *partial policy* (an action for every
private observation the acting player could have) with a key all players share; the acting player
plays the one for its real observation, and everyone updates the belief exactly, so the game
becomes a single-agent public-belief MDP.

Modules:

* `belief`: the exact public-belief update for enumerable private information,
  `P(f | u, B, pi_hat)` proportional to `1[pi_hat(f) == u] * B(f)`.
* `partial_policy`: sampling a partial policy with one key; its log-probability with and
  without the counterfactual (CF) term `sum_f log pi(pi_hat(f) | f)`.
* `matrix_game` (with `matrix_game_enumeration`): BAD with and without CF and independent policy
  gradient on OpenSpiel's `tiny_hanabi` (the two-step matrix game), one jitted training loop
  vmapped over seeds, with exact scoring of the final policies.
* `hanabi`: BAD and IPPO on Hanabi, one module per job (see its docstring): the agent's API
  (`agent`), its network, beliefs and likelihood, the PPO learner, evaluation and replays, agent
  files, the pretrained agents (`bad.hanabi.agents`) and players for OpenSpiel and the HLE.

Library code only: no flags, printing or files (those live in `experiments/`); every function that
samples takes an explicit `jax.random` key.
"""
