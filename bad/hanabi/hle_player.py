"""`HleAgent`: a trained agent in one seat of the Hanabi Learning Environment's `rl_env` games.

The one module of `bad` that needs the HLE (the `hanabi` extra); `bad.hanabi.agents.HleAgent`
loads it on first use.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from hanabi_learning_environment import pyhanabi, rl_env

from bad.hanabi import agent as hanabi_agent
from bad.hanabi.agent_files import Agent
from bad.hanabi.open_spiel_player import compiled_moves
from games.hanabi import decoders
from games.hanabi import rules as hanabi_rules
from games.hanabi import views as hanabi_views
from games.hanabi.config import HanabiConfig
from games.hanabi.layout import action_layout, observation_layout


def _public_legal_actions(game: HanabiConfig, full: np.ndarray) -> np.ndarray:
    """The legal-action mask as far as public facts tell (the observer's own hand unseen): the
    card moves of the actor's hand and every hint while information tokens are left. The
    belief reads no more: hints are made legal per sampled hand (`hanabi_likelihood`)."""
    legal = decoders.legal_actions_from_observation(game, full)
    layout = observation_layout(game)
    legal[action_layout(game).hints] = full[layout.information_tokens].sum() > 0
    return legal


class HleAgent(rl_env.Agent):
    """An agent for one seat of `rl_env` games (the Hanabi Learning Environment).

    As `rl_env.Agent` prescribes, `act` must see every turn's observation of its seat (it
    returns None when another player is to move): the observation before a partner's move,
    rotated to the partner's seat (`games.hanabi.views.rotate_public`), is the public part of
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
        self._moves = compiled_moves(agent.config)
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
            partners = hanabi_rules.partner_hands_from_private(game, vector[layout.private])
        else:
            legal = _public_legal_actions(game, actor)
            partners = np.full((game.players - 1, game.hand_size), -1)
        return hanabi_agent.Observation(
            public_observation=jnp.asarray(actor[layout.public]),
            partner_hands=jnp.asarray(partners, jnp.int32),
            card_knowledge=jnp.asarray(decoders.card_knowledge_from_observation(game, seat_zero)),
            remaining_counts=jnp.asarray(
                decoders.remaining_counts_from_observation(game, seat_zero), jnp.int32),
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
