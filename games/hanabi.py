"""Batched Hanabi through OpenSpiel's `hanabi` game or the Hanabi Learning Environment (HLE).

`HanabiGame` steps a batch of independent games and returns numpy arrays (a `HanabiStep`): every
player's canonical observation (OpenSpiel's `observation_tensor(p)`), its split into the public
part and the player's private part, the current player's legal actions, rewards, terminal flags,
scores, and the public facts a Bayesian Action Decoder belief is built from: each card's public
hint mask (card knowledge) and the publicly remaining card counts. Feature definitions are the ones
fixed in `games.hanabi_config`.

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
vectorised `*_from_observation` functions (the tests check them against both C++ rule sets and an
independent replay), with the layout of `games.hanabi_layout` and the rules of
`games.hanabi_rules`. Also here: `random_legal_actions` (a uniform legal move per game),
`random_decks` / `check_decks` (deal orders; `deck_values` is the rules module's), and
`play_random` (the final scores of a batch of random games, for demos).
`HanabiGame.decks` holds the deal orders of the games in play, so any game can be replayed with
`reset(decks=...)`, here or in `games.hanabi_jax`.

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
import functools
from collections.abc import Sequence

import numpy as np
import pyspiel

from games.hanabi_config import ConfigSpec, HanabiConfig, make_config
from games.hanabi_layout import observation_layout
from games.hanabi_rules import (
    copies_per_value,
    deck_values,
    legal_actions,
    partner_hands_from_private,
)

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


# ---------------------------------------------------------------------------------------------
# Features read from the canonical observation, vectorised over any leading batch axes.


@functools.cache
def _removed_cards_gather(config: HanabiConfig) -> tuple[np.ndarray, np.ndarray]:
    """Observation entries that count the copies of each card value discarded or played.

    Returns [num_values, K] indices into the observation and 0/1 weights (0 pads short rows):
    the weighted sum of the gathered entries is the number of copies removed. (A gather, not a
    matmul: a multi-threaded BLAS spinning on a shared 2-core machine costs more than it saves.)
    """
    layout = observation_layout(config)
    fireworks, discards = layout.fireworks, layout.discards
    rows: list[list[int]] = []
    for value in range(config.num_values):
        color, rank = divmod(value, config.ranks)
        # Fireworks one-hot the highest rank played per color: this rank or any above it.
        rows.append([fireworks.start + color * config.ranks + top
                     for top in range(rank, config.ranks)])
    # Discards: a block of `copies` entries per value, the first `discarded` of them set.
    block_start = discards.start
    for value, copies in enumerate(copies_per_value(config)):
        rows[value] += range(block_start, block_start + copies)
        block_start += copies
    width = max(len(row) for row in rows)
    indices = np.array([row + [0] * (width - len(row)) for row in rows], np.intp)
    weights = np.array([[1] * len(row) + [0] * (width - len(row)) for row in rows], np.float32)
    return indices, weights


def legal_actions_from_observation(config: HanabiConfig, observation: np.ndarray) -> np.ndarray:
    """The legal actions of the observing player, who must be the one to move: [..., num_actions].

    Read from the observation: the own hand's missing-card bit, the information tokens and the
    partners' cards, for `games.hanabi_rules.legal_actions`.
    """
    layout = observation_layout(config)
    # A hand lacks at most one card: once the deck is empty, every player moves just once more.
    missing_own_card = observation[..., layout.missing_cards.start] > 0
    cards_held = np.where(missing_own_card, config.hand_size - 1, config.hand_size)
    tokens = observation[..., layout.information_tokens].sum(-1)
    partner_hands = partner_hands_from_private(config, observation[..., layout.private])
    return legal_actions(config, cards_held, tokens, partner_hands)


def card_knowledge_from_observation(config: HanabiConfig, observation: np.ndarray) -> np.ndarray:
    """Public hint masks from seat 0's observation: [..., players, hand_size, num_values] bool.

    The canonical card-knowledge section lists players by offset from the observer, so seat 0's
    observation lists them in absolute seat order.
    """
    layout = observation_layout(config)
    section = observation[..., layout.card_knowledge]
    per_card = section.reshape(*observation.shape[:-1], config.players, config.hand_size,
                               layout.knowledge_width)
    return per_card[..., layout.knowledge_plausible] > 0


def remaining_counts_from_observation(config: HanabiConfig, observation: np.ndarray) -> np.ndarray:
    """Copies of each card value neither discarded nor played: [..., num_values] int32."""
    indices, weights = _removed_cards_gather(config)
    removed = (observation[..., indices] * weights).sum(-1)
    return (copies_per_value(config) - removed).astype(np.int32)


def random_legal_actions(legal_actions: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One uniformly random legal action per row of a [B, num_actions] mask: [B] int32."""
    keys = rng.random(legal_actions.shape)
    return np.argmax(np.where(legal_actions, keys, -1.0), axis=-1).astype(np.int32)


# ---------------------------------------------------------------------------------------------
# Backends: per-game loops over the C++ states. Each keeps the deck order and deal position of
# every game and deals the next card whenever its game asks for one.


class _OpenSpielBackend:
    """Games stepped through `pyspiel`; the chance action of a deal is the card value."""

    def __init__(self, config: HanabiConfig, num_games: int):
        self._game = pyspiel.load_game("hanabi", config.open_spiel_params())
        observer = self._game.make_observer(
            pyspiel.IIGObservationType(perfect_recall=False, public_info=True,
                                       private_info=pyspiel.PrivateInfoType.SINGLE_PLAYER), {})
        # The raw pybind object that `open_spiel.python.observation` wraps: the same buffer,
        # without a Python call per `set_from`.
        self._observation = pyspiel._Observation(self._game, observer)
        self._observation_view = np.frombuffer(self._observation, np.float32)
        self._players = config.players
        self._initial_cards = config.players * config.hand_size
        self._states: list[pyspiel.State | None] = [None] * num_games  # None until started
        self._decks: list[list[int]] = [[] for _ in range(num_games)]
        self._dealt = [0] * num_games

    def _state(self, game: int) -> pyspiel.State:
        """The state of a started game.

        Raises:
          RuntimeError: the game was never started.
        """
        state = self._states[game]
        if state is None:
            raise RuntimeError(f"Hanabi game {game} was never started; call start first.")
        return state

    def start(self, games: Sequence[int], decks: np.ndarray) -> None:
        """Deals new games from the given deck orders (one row per game index)."""
        for game, deck in zip(games, decks.tolist()):
            state = self._game.new_initial_state()
            for value in deck[:self._initial_cards]:
                state.apply_action(value)
            self._states[game] = state
            self._decks[game] = deck
            self._dealt[game] = self._initial_cards

    def apply(self, actions: list[int]) -> tuple[list[int], list[bool]]:
        """Applies one action per game and deals a replacement card; returns scores and ends."""
        scores, done = [], []
        decks, dealt = self._decks, self._dealt
        for game, action in enumerate(actions):
            state = self._state(game)
            state.apply_action(action)
            finished = state.is_terminal()
            if not finished and state.is_chance_node():
                state.apply_action(decks[game][dealt[game]])
                dealt[game] += 1
            scores.append(int(state.returns()[0]))
            done.append(finished)
        return scores, done

    def observe(self, out: np.ndarray) -> list[int]:
        """Writes every player's observation into `out` [B, P, obs]; returns players to move."""
        observation, view, players = self._observation, self._observation_view, range(self._players)
        current = []
        for game in range(len(self._states)):
            state = self._state(game)
            for player in players:
                observation.set_from(state, player)
                out[game, player] = view
            current.append(state.current_player())
        return current

    def legal_actions(self, game: int) -> list[int]:
        """The legal actions of a game, as the C++ rules list them."""
        return self._state(game).legal_actions()


_HLE_DEAL_MOVE = 5  # HanabiMove::kDeal
_HLE_CHANCE_PLAYER = -1


class _HleBackend:
    """Games stepped through the HLE's `pyhanabi` C API (bypassing its Python wrappers)."""

    def __init__(self, config: HanabiConfig, num_games: int):
        # Imported here: the HLE is an optional dependency (the `hanabi` extra).
        from hanabi_learning_environment import pyhanabi

        lib, ffi = pyhanabi.lib, pyhanabi.ffi
        self._lib, self._ffi = lib, ffi
        self._game = pyhanabi.HanabiGame(config.open_spiel_params())
        self._encoder = ffi.gc(ffi.new("pyhanabi_observation_encoder_t*"),
                               lib.DeleteObservationEncoder)
        lib.NewObservationEncoder(self._encoder, self._game.c_game,
                                  pyhanabi.ObservationEncoderType.CANONICAL)
        # The wrappers own (and free) the C moves, so they live as long as the backend.
        self._move_wrappers = [self._game.get_move(uid) for uid in range(config.num_actions)]
        self._moves = [move.c_move for move in self._move_wrappers]
        self._deal_move_buffers = [_hle_deal_move(lib, ffi, value // config.ranks,
                                                  value % config.ranks)
                                   for value in range(config.num_values)]
        self._deal_moves = [move for move, _ in self._deal_move_buffers]
        self._players = config.players
        self._initial_cards = config.players * config.hand_size
        self._states = [self._new_state() for _ in range(num_games)]
        self._decks: list[list[int]] = [[] for _ in range(num_games)]
        self._dealt = [0] * num_games

    def _new_state(self):
        """A new C state, freed when it is garbage-collected."""
        state = self._ffi.gc(self._ffi.new("pyhanabi_state_t*"), self._lib.DeleteState)
        self._lib.NewState(self._game.c_game, state)
        return state

    def start(self, games: Sequence[int], decks: np.ndarray) -> None:
        """Deals new games from the given deck orders (one row per game index)."""
        for game, deck in zip(games, decks.tolist()):
            state = self._new_state()
            for value in deck[:self._initial_cards]:
                self._lib.StateApplyMove(state, self._deal_moves[value])
            self._states[game] = state
            self._decks[game] = deck
            self._dealt[game] = self._initial_cards

    def apply(self, actions: list[int]) -> tuple[list[int], list[bool]]:
        """Applies one action per game and deals a replacement card; returns scores and ends."""
        lib, moves, deal_moves = self._lib, self._moves, self._deal_moves
        decks, dealt = self._decks, self._dealt
        scores, done = [], []
        for game, (state, action) in enumerate(zip(self._states, actions)):
            lib.StateApplyMove(state, moves[action])
            finished = lib.StateEndOfGameStatus(state) != 0
            if not finished and lib.StateCurPlayer(state) == _HLE_CHANCE_PLAYER:
                lib.StateApplyMove(state, deal_moves[decks[game][dealt[game]]])
                dealt[game] += 1
            scores.append(lib.StateScore(state))
            done.append(finished)
        return scores, done

    def observe(self, out: np.ndarray) -> list[int]:
        """Writes every player's observation into `out` [B, P, obs]; returns players to move."""
        lib, ffi, encoder = self._lib, self._ffi, self._encoder
        observation = ffi.new("pyhanabi_observation_t*")
        encodings, current = [], []
        for state in self._states:
            for player in range(self._players):
                lib.NewObservation(state, player, observation)
                text = lib.EncodeObservation(encoder, observation)
                encodings.append(ffi.string(text))
                lib.DeleteString(text)
                lib.DeleteObservation(observation)
            current.append(lib.StateCurPlayer(state))
        # The encoding is a comma-separated string of 0/1 digits: keep every other byte.
        digits = np.frombuffer(b",".join(encodings), np.uint8)[::2]
        out[...] = (digits - ord("0")).reshape(out.shape)
        return current

    def legal_actions(self, game: int) -> list[int]:
        """The legal actions of a game, as the C++ rules list them."""
        moves = self._lib.StateLegalMoves(self._states[game])
        move = self._ffi.new("pyhanabi_move_t*")
        uids = []
        for index in range(self._lib.NumMoves(moves)):
            self._lib.GetMove(moves, index, move)
            uids.append(self._lib.GetMoveUid(self._game.c_game, move))
            self._lib.DeleteMove(move)
        self._lib.DeleteMoveList(moves)
        return sorted(uids)


def _hle_deal_move(lib, ffi, color: int, rank: int) -> tuple[object, object]:
    """A `pyhanabi_move_t*` dealing the given card, and the buffer that must outlive it.

    `HanabiMove` is an int32 move type followed by int8 card index, target offset, color and
    rank; we check that HLE's accessors read back what we wrote.
    """
    data = ffi.new("char[8]", np.array([_HLE_DEAL_MOVE], np.int32).tobytes()
                   + np.array([-1, -1, color, rank], np.int8).tobytes())
    move = ffi.new("pyhanabi_move_t*")
    move.move = data
    if (lib.MoveType(move), lib.MoveColor(move), lib.MoveRank(move)) != (
            _HLE_DEAL_MOVE, color, rank):
        raise RuntimeError("this build of the Hanabi Learning Environment lays out HanabiMove "
                           "differently from the layout games.hanabi writes deal moves in.")
    return move, data


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
        self._games = (_OpenSpielBackend if backend == "open_spiel" else _HleBackend)(
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
