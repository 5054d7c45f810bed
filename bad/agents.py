"""Trained Hanabi agents anyone can play with: agent files, OpenSpiel and HLE players.

* `save_agent(path, agent)` / `load_agent(path)`: `Agent` files (`bad.agent_files`).
* `load_pretrained(name)`: a shipped agent file (`PRETRAINED`) from `PRETRAINED_DIR`.
* `HleAgent(agent, greedy=False, seed=0)`: an `rl_env.Agent` for the Hanabi Learning
  Environment (see its docstring).
* `OpenSpielPolicy(agent, game, greedy=False, seed=0)`: an `open_spiel.python.policy.Policy`
  for OpenSpiel's `hanabi` game. `action_probabilities(state)` needs nothing but the state: it
  replays the public moves of `state.history()` on a fresh state, updating the agent's public
  belief with every move played (`hanabi_agent.observe`), and returns the agent's policy at the
  end. Sampled, that is the softmax over the legal actions on the real partner hands (what the
  Gumbel partial policy plays in distribution); greedy, the most likely action with probability
  1. Move `t` of the game (counting player moves, not deals) uses the key `fold_in(game_key, t)`,
  as `bad.hanabi_evaluation.play_open_spiel` does; every agent seated in a game must be given the
  same `game_key` (or `seed`) so that their public samples agree.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pyspiel
from hanabi_learning_environment import pyhanabi, rl_env
from open_spiel.python import policy as open_spiel_policy

from bad import hanabi_agent, hanabi_network
from bad.agent_files import Agent, load_agent, make_agent, save_agent
from games import hanabi, hanabi_views
from games.hanabi_config import PARAMETERS, HanabiConfig, make_config
from games.hanabi_layout import action_layout, observation_layout

__all__ = ["Agent", "HleAgent", "OpenSpielPolicy", "load_agent", "load_pretrained", "make_agent",
           "save_agent", "game_config_of", "observation_from_open_spiel"]


PRETRAINED = ("very_small", "small", "full")
PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained")


def load_pretrained(name: str) -> Agent:
    """The pretrained agent `name` (one of `PRETRAINED`), `PRETRAINED_DIR/<name>.npz`."""
    if name not in PRETRAINED:
        raise ValueError(f"pretrained agent must be one of {', '.join(PRETRAINED)}, got {name!r}.")
    path = os.path.join(PRETRAINED_DIR, f"{name}.npz")
    if not os.path.isfile(path):
        raise ValueError(f"pretrained agent {name!r} is not installed: {path} is missing.")
    return load_agent(path)


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
        partner_hands=jnp.asarray(hanabi.partner_hands_from_private(game, mine[layout.private]),
                                  jnp.int32),
        card_knowledge=jnp.asarray(hanabi.card_knowledge_from_observation(game, seat_zero)),
        remaining_counts=jnp.asarray(hanabi.remaining_counts_from_observation(game, seat_zero),
                                     jnp.int32),
        legal_actions=jnp.asarray(hanabi.legal_actions_from_observation(game, mine)),
        current_player=jnp.asarray(actor, jnp.int32),
    )


class _Moves(NamedTuple):
    """The agent's per-move functions (compiled)."""

    observe: Callable[..., jax.Array]
    policy: Callable[..., tuple[jax.Array, jax.Array]]
    decide: Callable[..., jax.Array]


@functools.lru_cache(maxsize=None)
def _moves_of(config: hanabi_agent.AgentConfig) -> _Moves:
    """`_Moves` of agents of `config`, built (and compiled) once per config."""

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

    return _Moves(observe=jax.jit(observe), policy=jax.jit(policy),
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
        self._moves = _moves_of(agent.config)
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


def _public_legal_actions(game: HanabiConfig, full: np.ndarray) -> np.ndarray:
    """The legal-action mask as far as public facts tell (the observer's own hand unseen): the
    card moves of the actor's hand and every hint while information tokens are left. The
    belief reads no more: hints are made legal per sampled hand (`hanabi_likelihood`)."""
    legal = hanabi.legal_actions_from_observation(game, full)
    layout = observation_layout(game)
    legal[action_layout(game).hints] = full[layout.information_tokens].sum() > 0
    return legal


class HleAgent(rl_env.Agent):
    """An agent for one seat of `rl_env` games (the Hanabi Learning Environment).

    As `rl_env.Agent` prescribes, `act` must see every turn's observation of its seat (it
    returns None when another player is to move): the observation before a partner's move,
    rotated to the partner's seat (`games.hanabi_views.rotate_public`), is the public part of
    that partner's observation, and the move itself is read from the next observation's
    `pyhanabi.last_moves()`. So the agent updates its public belief with every move played.
    Use one instance per seat; all seats of a game must be given the same `seed` (game `n` of
    an instance, counted from the first move of each game, uses the key
    `fold_in(PRNGKey(seed), n)`, and move `t` of it `fold_in` of that with `t`).
    """

    def __init__(self, agent: Agent, greedy: bool = False, seed: int = 0):
        # rl_env.Agent's own __init__ only raises NotImplementedError: not called.
        game = agent.config.game
        self.config = dict(game.open_spiel_params())
        self.agent, self.greedy = agent, bool(greedy)
        self._key = jax.random.PRNGKey(seed)
        self._moves = _moves_of(agent.config)
        self._uids = pyhanabi.HanabiGame(dict(game.open_spiel_params()))
        self._layout = observation_layout(game)
        self._games = -1
        self.reset()

    def reset(self, config: Any = None) -> None:
        """Forgets the current game (a new one is also detected from its first observation)."""
        del config  # the game is the agent's
        self.evidence = hanabi_agent.initial_evidence(self.agent.config)
        self._previous: dict[str, Any] | None = None
        self._move = 0

    def _observation(self, seen: dict[str, Any], own: bool) -> hanabi_agent.Observation:
        """The `Observation` of the player to move at the observation dict `seen` of this seat
        (the partners' hands only on its own turn)."""
        game, layout = self.agent.config.game, self._layout
        vector = np.asarray(seen["vectorized"], np.float32)
        offset = seen["current_player_offset"]
        seat = (seen["current_player"] - offset) % game.players
        actor = np.zeros(game.observation_size, np.float32)
        actor[layout.public] = hanabi_views.rotate_public(game, vector[layout.public], offset)
        seat_zero = np.zeros_like(actor)
        seat_zero[layout.public] = hanabi_views.rotate_public(game, vector[layout.public], -seat)
        if own:
            legal = np.zeros(game.num_actions, bool)
            legal[seen["legal_moves_as_int"]] = True
            partners = hanabi.partner_hands_from_private(game, vector[layout.private])
        else:
            legal = _public_legal_actions(game, actor)
            partners = np.full((game.players - 1, game.hand_size), -1)
        return hanabi_agent.Observation(
            public_observation=jnp.asarray(actor[layout.public]),
            partner_hands=jnp.asarray(partners, jnp.int32),
            card_knowledge=jnp.asarray(hanabi.card_knowledge_from_observation(game, seat_zero)),
            remaining_counts=jnp.asarray(
                hanabi.remaining_counts_from_observation(game, seat_zero), jnp.int32),
            legal_actions=jnp.asarray(legal),
            current_player=jnp.asarray(seen["current_player"], jnp.int32))

    def _move_key(self) -> jax.Array:
        return jax.random.fold_in(jax.random.fold_in(self._key, self._games), self._move)

    def _catch_up(self, seen: dict[str, Any]) -> None:
        """Updates the evidence with the move played since the previous observation."""
        vector = np.asarray(seen["vectorized"], np.float32)
        if not vector[self._layout.last_action].any():  # no move yet: a new game
            self.reset()
            self._games += 1
            return
        if self._previous is None:
            raise ValueError("HleAgent.act must see every turn of a game from its first move.")
        played = next(item for item in seen["pyhanabi"].last_moves()
                      if item.move().type() != pyhanabi.HanabiMoveType.DEAL)
        action = self._uids.get_move_uid(played.move())
        previous = self._observation(self._previous, own=False)
        self.evidence = self._moves.observe(self.agent.params, previous, self.evidence,
                                            self._move_key(), jnp.asarray(action, jnp.int32))
        self._move += 1

    # The keys of an `rl_env` observation dict that `act` reads.
    OBSERVATION_KEYS = ("vectorized", "num_players", "current_player", "current_player_offset",
                        "legal_moves", "legal_moves_as_int", "pyhanabi")

    def act(self, observation: dict[str, Any]) -> dict[str, Any] | None:
        """This seat's move (an `rl_env` move dict) on its turn, else None."""
        game = self.agent.config.game
        missing = [key for key in self.OBSERVATION_KEYS if key not in observation]
        if missing:
            raise ValueError(f"HleAgent.act needs an rl_env observation dict of its seat; this one "
                             f"lacks {', '.join(map(repr, missing))}.")
        size = len(observation["vectorized"])
        if size != game.observation_size or observation["num_players"] != game.players:
            raise ValueError(f"HLE observations must be of the agent's game "
                             f"{game.open_spiel_params()}, got {size} entries.")
        self._catch_up(observation)
        self._previous = observation
        if observation["current_player_offset"] != 0:
            return None
        action = int(self._moves.decide(self.agent.params, self._observation(observation, True),
                                        self.evidence, self._move_key(), self.greedy))
        return observation["legal_moves"][observation["legal_moves_as_int"].index(action)]
