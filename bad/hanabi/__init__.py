"""BAD and IPPO on Hanabi: the agent, its beliefs, its training, and players for other code.

* `agent_types`: the shared vocabulary (`AgentConfig`, `Observation`, `METHODS`), imported by
  every module here and importing none of them.
* `agent`: the agent's API (`public_context`, `decide`, `observe`, `act`); `network`: the policy
  and the centralised critic.
* `public_belief`: V0, the factorised BB / V2 and the exact joint belief behind one interface;
  `belief`: the V0 / V1 / BB / V2 formulas; `likelihood`: the factorised BAD likelihood;
  `exact_belief`: the exact joint belief for small games.
* `learner`: PPO self-play on the pure-JAX Hanabi (`games.hanabi.jax_game`).
* `evaluation`: scores in the JAX game or through OpenSpiel; `replay`: a game of seated agents,
  or people, as a record of every move, board and belief.
* `agent_files`: `Agent` (config plus parameters) and its file format; `agents`: the public front
  (`load_pretrained`, `OpenSpielPolicy`, `HleAgent`), with the players in `open_spiel_player` and
  `hle_player` (the one module that needs the HLE, loaded on first use).

Modules are imported as `from bad.hanabi import network as hanabi_network`, so call sites keep
saying which subject a name belongs to.
"""
