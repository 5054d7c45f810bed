"""`OpenSpielPolicy`: a trained agent as an `open_spiel.python.policy.Policy` for OpenSpiel's
`hanabi` game, and what the game players share (`compiled_moves`, `observation_from_open_spiel`).

`action_probabilities(state)` needs nothing but the state: it replays the public moves of
`state.history()` on a fresh state, updating the agent's public belief with every move played
(`hanabi_agent.observe`), and returns the agent's policy at the end. Sampled, that is the softmax
over the legal actions on the real partner hands (what the Gumbel partial policy plays in
distribution); greedy, the most likely action with probability 1. Move `t` of the game (counting
player moves, not deals) uses the key `fold_in(game_key, t)`, as
`bad.hanabi.evaluation.play_open_spiel` does; every agent seated in a game must be given the same
`game_key` (or `seed`) so that their public samples agree.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pyspiel
from open_spiel.python import policy as open_spiel_policy

from bad.hanabi import agent as hanabi_agent
from bad.hanabi import network as hanabi_network
from bad.hanabi.agent_files import Agent
from games.hanabi import decoders
from games.hanabi import rules as hanabi_rules
from games.hanabi.config import PARAMETERS, HanabiConfig, make_config
from games.hanabi.layout import observation_layout


def game_config_of(game: Any) -> HanabiConfig:
    """The `HanabiConfig` of an OpenSpiel `hanabi` game (refusing other games and settings)."""
    name = game.get_type().short_name
    if name != "hanabi":
        raise ValueError(f"game must be OpenSpiel's 'hanabi', got {name!r}.")
    params = game.get_parameters()
    unsupported = sorted(set(params) - set(PARAMETERS))
    if unsupported:
        raise ValueError(f"hanabi game parameter {unsupported[0]!r} is not supported by agents.")
    return make_config(dict(params))


def observation_from_open_spiel(game: HanabiConfig, state: Any) -> hanabi_agent.Observation:
    """The acting player's `Observation` of an OpenSpiel Hanabi decision node, through the same
    conversions as `games.hanabi`'s OpenSpiel backend."""
    layout = observation_layout(game)
    actor = state.current_player()
    mine = np.asarray(state.observation_tensor(actor), np.float32)
    seat_zero = np.asarray(state.observation_tensor(0), np.float32)
    return hanabi_agent.Observation(
        public_observation=jnp.asarray(mine[layout.public]),
        partner_hands=jnp.asarray(
            hanabi_rules.partner_hands_from_private(game, mine[layout.private]), jnp.int32),
        card_knowledge=jnp.asarray(decoders.card_knowledge_from_observation(game, seat_zero)),
        remaining_counts=jnp.asarray(decoders.remaining_counts_from_observation(game, seat_zero),
                                     jnp.int32),
        legal_actions=jnp.asarray(decoders.legal_actions_from_observation(game, mine)),
        current_player=jnp.asarray(actor, jnp.int32),
    )


class CompiledMoves(NamedTuple):
    """The agent's per-move functions (compiled)."""

    observe: Callable[..., jax.Array]
    policy: Callable[..., tuple[jax.Array, jax.Array]]
    decide: Callable[..., jax.Array]


@functools.cache
def compiled_moves(config: hanabi_agent.AgentConfig) -> CompiledMoves:
    """`CompiledMoves` of agents of `config`, built (and compiled) once per config."""

    def observe(params, observation, evidence, key, action):
        context = hanabi_agent.public_context(config, observation, evidence, key)
        return hanabi_agent.observe(config, params, context, observation, action)

    def policy(params, observation, evidence, key):
        context = hanabi_agent.public_context(config, observation, evidence, key)
        logits = hanabi_network.masked(hanabi_network.policy_logits(
            config, params["policy"], context.public_input, observation.partner_hands),
            observation.legal_actions)
        # The greedy `decide`'s action, without its counterfactual logits.
        return jax.nn.softmax(logits), jnp.argmax(logits).astype(jnp.int32)

    def decide(params, observation, evidence, key, greedy):
        context = hanabi_agent.public_context(config, observation, evidence, key)
        return hanabi_agent.decide(config, params, context, observation, greedy).action

    return CompiledMoves(observe=jax.jit(observe), policy=jax.jit(policy),
                  decide=jax.jit(decide, static_argnums=4))


class OpenSpielPolicy(open_spiel_policy.Policy):
    """An agent's policy for every player of an OpenSpiel `hanabi` game (see the module doc).

    Args:
      agent: the `Agent` (e.g. `load_agent(path)`).
      game: the OpenSpiel game; its parameters must be the agent's.
      greedy: return the most likely action with probability 1 instead of the sampled policy.
      seed: the game key is `jax.random.PRNGKey(seed)` unless `game_key` is given.
      game_key: the key of the game's moves, shared by every agent seated in it.
    """

    def __init__(self, agent: Agent, game: Any, greedy: bool = False, seed: int = 0,
                 game_key: jax.Array | None = None):
        config = game_config_of(game)
        if config != agent.config.game:
            raise ValueError(f"game parameters {config.open_spiel_params()} differ from the "
                             f"agent's {agent.config.game.open_spiel_params()}.")
        super().__init__(game, list(range(config.players)))
        self.agent = agent
        self.greedy = bool(greedy)
        self.game_key = jax.random.PRNGKey(seed) if game_key is None else game_key
        self._moves = compiled_moves(agent.config)
        self._initial = hanabi_agent.initial_evidence(agent.config)
        self._cache: dict[tuple[int, ...], jax.Array] = {}

    def evidence(self, state: Any) -> jax.Array:
        """The agent's public evidence at `state`, rebuilt from the moves of its history."""
        game, history = self.agent.config.game, list(state.history())
        replay = self.game.new_initial_state()
        evidence, move = self._initial, 0
        for index, action in enumerate(history):
            if replay.is_chance_node():
                replay.apply_action(action)
                continue
            prefix = tuple(history[:index + 1])
            cached = self._cache.get(prefix)
            if cached is None:
                observation = observation_from_open_spiel(game, replay)
                cached = self._moves.observe(self.agent.params, observation, evidence,
                                             self._move_key(move), jnp.asarray(action, jnp.int32))
                self._cache[prefix] = cached
            evidence, move = cached, move + 1
            replay.apply_action(action)
        return evidence

    def _check_game_of(self, state: Any) -> None:
        """Refuses a state of another game: its moves would be read with this game's ids."""
        config = game_config_of(state.get_game())
        if config != self.agent.config.game:
            raise ValueError(f"the state's game parameters {config.open_spiel_params()} differ "
                             f"from the agent's {self.agent.config.game.open_spiel_params()}.")

    def _move_key(self, move: int) -> jax.Array:
        return jax.random.fold_in(self.game_key, move)

    def action_probabilities(self, state: Any, player_id: int | None = None) -> dict[int, float]:
        """{legal action: probability} of the player to move at `state`."""
        self._check_game_of(state)
        if state.is_terminal() or state.is_chance_node():
            raise ValueError("action_probabilities needs a decision node, got a chance or "
                             "terminal state.")
        actor = state.current_player()
        if player_id is not None and player_id != actor:
            raise ValueError(f"player_id {player_id} is not the player to move ({actor}).")
        evidence = self.evidence(state)
        moves = sum(1 for action in state.full_history()
                    if action.player != pyspiel.PlayerId.CHANCE)
        observation = observation_from_open_spiel(self.agent.config.game, state)
        probs, greedy_action = self._moves.policy(self.agent.params, observation, evidence,
                                                  self._move_key(moves))
        legal = state.legal_actions()
        if self.greedy:
            return {action: float(action == int(greedy_action)) for action in legal}
        probs = np.asarray(probs, np.float64)[legal]
        probs = probs / probs.sum()
        return dict(zip(legal, probs.tolist()))
