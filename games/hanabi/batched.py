"""Batched Hanabi through OpenSpiel's `hanabi` game or the Hanabi Learning Environment (HLE).

`HanabiGame` steps a batch of independent games and returns numpy arrays (a `HanabiStep`): every
player's canonical observation (OpenSpiel's `observation_tensor(p)`), its split into the public
part and the player's private part, the current player's legal actions, rewards, terminal flags,
scores, and the public facts a Bayesian Action Decoder belief is built from: each card's public
hint mask (card knowledge) and the publicly remaining card counts. Feature definitions are the ones
fixed in `games.hanabi.config`.

Two backends run the same C++ rules: `backend="open_spiel"` (through `pyspiel`) and
`backend="hle"` (through the HLE's `pyhanabi` C API). We deal every card ourselves, from a deck
order drawn with the game's numpy Generator (or given to `reset(decks=...)`): OpenSpiel takes
the card as the chance action, HLE as a deal move (HLE's C API has no call for a chosen card, so
the deal move is written in the `HanabiMove` layout, which is checked against HLE's own accessors
when a backend is built). The same seed therefore gives the same games on both backends.

Finished games start again at once: in the step where a game ends, `rewards`, `done` and `score`
describe the finished game and every observation field describes the next game, freshly dealt.

Rewards follow OpenSpiel and HLE: the change in score, the same for every player; the score is
the sum of the fireworks, or 0 once the last life token is lost.

Legal actions, card knowledge and remaining counts are read from the observation batch with the
vectorised `*_from_observation` functions of `games.hanabi.decoders`; the backends live in
`games.hanabi.backends`. Also here: `random_legal_actions` (a uniform legal move per game),
`random_decks` / `check_decks` (deal orders; `deck_values` is the rules module's), and
`play_random` (the final scores of a batch of random games, for demos).
`HanabiGame.decks` holds the deal orders of the games in play, so any game can be replayed with
`reset(decks=...)`, here or in `games.hanabi.jax_game`.

Example:

    game = HanabiGame("small", num_games=8, seed=0)
    step = game.reset()
    rng = np.random.default_rng(1)
    for _ in range(100):
        step = game.step(random_legal_actions(step.legal_actions, rng))
    step.public_observation.shape  # (8, 2, game.config.public_size)
    play_random("full", num_games=256, seed=0).mean()
"""

from __future__ import annotations

import dataclasses

import numpy as np

from games.hanabi.backends import HleBackend, OpenSpielBackend
from games.hanabi.config import ConfigSpec, HanabiConfig, make_config
from games.hanabi.decoders import (
    card_knowledge_from_observation,
    legal_actions_from_observation,
    remaining_counts_from_observation,
)
from games.hanabi.layout import observation_layout
from games.hanabi.rules import copies_per_value, deck_values

BACKENDS = ("open_spiel", "hle")
Seed = int | np.random.Generator


@dataclasses.dataclass(frozen=True)
class HanabiStep:
    """What a batch of B games of P players shows after `reset` or `step` (arrays are read-only).

    Attributes:
      observation: [B, P, observation_size] float32, player p's canonical observation.
      public_observation: [B, P, public_size] float32, its public part (the same for all p up
        to the seat rotation of the canonical encoding).
      private_observation: [B, P, private_size] float32, the other players' cards seen by p.
      legal_actions: [B, num_actions] bool, the current player's legal actions.
      rewards: [B, P] float32, the change in score caused by the step.
      done: [B] bool, whether the game ended with this step (it has been dealt again).
      current_player: [B] int32, the player to move.
      score: [B] int32, the score of the game (of the finished game where `done`).
      card_knowledge: [B, P, hand_size, num_values] bool, per player (absolute seat) and hand slot,
        the card values allowed by the hints that card received; empty slots are all False.
      remaining_counts: [B, num_values] int32, copies of each card value not discarded or played.
    """

    observation: np.ndarray
    public_observation: np.ndarray
    private_observation: np.ndarray
    legal_actions: np.ndarray
    rewards: np.ndarray
    done: np.ndarray
    current_player: np.ndarray
    score: np.ndarray
    card_knowledge: np.ndarray
    remaining_counts: np.ndarray


# ---------------------------------------------------------------------------------------------
# Decks.


def random_decks(config: HanabiConfig, num_decks: int, rng: np.random.Generator) -> np.ndarray:
    """Uniformly shuffled deck orders (card values in dealing order): [num_decks, deck_size]."""
    return rng.permuted(np.tile(deck_values(config), (num_decks, 1)), axis=1)


def check_decks(config: HanabiConfig, decks: np.ndarray, num_games: int) -> np.ndarray:
    """Returns `decks` as int32 after checking it holds one full deck order per game.

    Raises:
      ValueError: wrong shape or dtype, or a row that is not a permutation of the deck.
    """
    decks = np.asarray(decks)
    expected = (num_games, config.deck_size)
    if decks.shape != expected or decks.dtype.kind not in "iu":
        raise ValueError(f"hanabi decks must be an integer array of shape {expected} (card values "
                         f"in dealing order), got {decks.dtype} of shape {decks.shape}.")
    full = copies_per_value(config)
    for game, deck in enumerate(decks):
        if deck.min() < 0 or deck.max() >= config.num_values:
            raise ValueError(f"deck of game {game} holds card value {deck.max()}; allowed: 0 to "
                             f"{config.num_values - 1}.")
        counts = np.bincount(deck, minlength=config.num_values)
        if not np.array_equal(counts, full):
            value = int(np.flatnonzero(counts != full)[0])
            raise ValueError(f"deck of game {game} holds {counts[value]} copies of card value "
                             f"{value}; a full deck holds {full[value]}.")
    return decks.astype(np.int32)


def random_legal_actions(legal_actions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random legal action per row of a [B, num_actions] mask: [B] int32."""
    keys = rng.random(legal_actions.shape)
    return np.argmax(np.where(legal_actions, keys, -1.0), axis=-1).astype(np.int32)



# ---------------------------------------------------------------------------------------------
# The batched game.


def _generator(seed: Seed) -> np.random.Generator:
    """The Generator itself, or a new one seeded with a non-negative int."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(
            f"hanabi seed must be a non-negative int or a numpy Generator, got {seed!r}.")
    return np.random.default_rng(seed)


class HanabiGame:
    """A batch of Hanabi games behind one numpy interface (see the module docstring)."""

    def __init__(self, preset_or_params: ConfigSpec, num_games: int, seed: Seed,
                 backend: str = "open_spiel"):
        """Builds the games; call `reset` before `step`.

        Args:
          preset_or_params: a preset name, parameter dict or `HanabiConfig` (see `make_config`).
          num_games: how many games to run side by side.
          seed: an int or numpy Generator driving the deals.
          backend: `open_spiel` or `hle`.

        Raises:
          ValueError: a bad game specification, batch size, seed or backend name.
        """
        self.config = make_config(preset_or_params)
        if isinstance(num_games, bool) or not isinstance(num_games, (int, np.integer)) \
                or num_games < 1:
            raise ValueError(f"hanabi num_games must be a positive int, got {num_games!r}.")
        if backend not in BACKENDS:
            raise ValueError(f"unknown hanabi backend {backend!r}; allowed: {', '.join(BACKENDS)}.")
        self.num_games = int(num_games)
        self.backend = backend
        self._rng = _generator(seed)
        self._games = (OpenSpielBackend if backend == "open_spiel" else HleBackend)(
            self.config, self.num_games)
        self._decks = np.zeros((self.num_games, self.config.deck_size), np.int32)
        self._scores = np.zeros(self.num_games, np.int32)
        self._last: HanabiStep | None = None

    @property
    def decks(self) -> np.ndarray:
        """The deck orders (card values in dealing order) of the games now in play."""
        return self._decks.copy()

    def reset(self, decks: np.ndarray | None = None) -> HanabiStep:
        """Starts every game afresh, from the given [B, deck_size] deck orders or random ones."""
        if decks is None:
            decks = random_decks(self.config, self.num_games, self._rng)
        else:
            decks = check_decks(self.config, decks, self.num_games)
        self._decks = decks
        self._scores = np.zeros(self.num_games, np.int32)
        self._games.start(range(self.num_games), decks)
        zeros = np.zeros(self.num_games, np.int32)
        return self._observe(zeros, np.zeros(self.num_games, bool), zeros)

    def step(self, actions: np.ndarray) -> HanabiStep:
        """Plays one action (of the current player) in every game.

        Raises:
          ValueError: `reset` not called, or an action array of the wrong shape or dtype, or an
            action not legal in its game (then no game is changed).
        """
        actions = self._check_actions(actions)
        score_list, done_list = self._games.apply(actions.tolist())
        scores = np.asarray(score_list, np.int32)
        done = np.asarray(done_list, bool)
        rewards = scores - self._scores
        finished = np.flatnonzero(done)
        if finished.size:
            new_decks = random_decks(self.config, finished.size, self._rng)
            self._decks[finished] = new_decks
            self._games.start(finished.tolist(), new_decks)
        self._scores = np.where(done, 0, scores)
        return self._observe(rewards, done, scores)

    def legal_actions_of(self, game: int) -> list[int]:
        """The legal actions of one game as the backend's C++ rules list them (slow; for tests)."""
        return self._games.legal_actions(game)

    def _check_actions(self, actions: np.ndarray) -> np.ndarray:
        """Returns `actions` as an array after checking every one is legal in its game."""
        if self._last is None:
            raise ValueError("hanabi step called before reset.")
        actions = np.asarray(actions)
        if actions.shape != (self.num_games,) or actions.dtype.kind not in "iu":
            raise ValueError(f"hanabi actions must be an integer array of shape ({self.num_games},)"
                             f", got {actions.dtype} of shape {actions.shape}.")
        in_range = (actions >= 0) & (actions < self.config.num_actions)
        legal = in_range & self._last.legal_actions[
            np.arange(self.num_games), np.where(in_range, actions, 0)]
        if not legal.all():
            game = int(np.flatnonzero(~legal)[0])
            allowed = np.flatnonzero(self._last.legal_actions[game]).tolist()
            raise ValueError(
                f"action {actions[game]} is not legal in game {game} (player "
                f"{self._last.current_player[game]} to move); legal: {allowed}.")
        return actions

    def _observe(self, rewards: np.ndarray, done: np.ndarray, scores: np.ndarray) -> HanabiStep:
        """Reads every game's observations and derives the features from them."""
        config, batch = self.config, self.num_games
        layout = observation_layout(config)
        observation = np.empty((batch, config.players, config.observation_size), np.float32)
        current = np.asarray(self._games.observe(observation), np.int32)
        mover = observation[np.arange(batch), current]
        step = HanabiStep(
            observation=observation,
            public_observation=observation[..., layout.public],
            private_observation=observation[..., layout.private],
            legal_actions=legal_actions_from_observation(config, mover),
            rewards=np.repeat(rewards.astype(np.float32)[:, None], config.players, axis=1),
            done=done,
            current_player=current,
            score=scores.astype(np.int32),
            card_knowledge=card_knowledge_from_observation(config, observation[:, 0]),
            remaining_counts=remaining_counts_from_observation(config, observation[:, 0]),
        )
        for field in dataclasses.fields(step):
            getattr(step, field.name).flags.writeable = False
        self._last = step
        return step


def play_random(preset_or_params: ConfigSpec, num_games: int, seed: int,
                backend: str = "open_spiel") -> np.ndarray:
    """Plays `num_games` games with uniformly random legal moves; returns their final scores."""
    deal_seed, action_seed = np.random.SeedSequence(seed).spawn(2)
    game = HanabiGame(preset_or_params, num_games, np.random.default_rng(deal_seed), backend)
    rng = np.random.default_rng(action_seed)
    step = game.reset()
    scores = np.full(num_games, -1, np.int32)
    while (scores < 0).any():
        step = game.step(random_legal_actions(step.legal_actions, rng))
        first_end = step.done & (scores < 0)
        scores[first_end] = step.score[first_end]
    return scores
