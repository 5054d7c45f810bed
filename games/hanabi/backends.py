"""The C++ backends of the batched Hanabi (`games.hanabi.batched`): OpenSpiel and the HLE.

Per-game loops over the C++ states. Each keeps the deck order and deal position of every game and
deals the next card whenever its game asks for one: OpenSpiel takes the card as the chance action,
the HLE as a deal move written in the `HanabiMove` layout (its C API has no call for a chosen
card), which is checked against the HLE's own accessors when a backend is built.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyspiel

from games.hanabi.config import HanabiConfig


class OpenSpielBackend:
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


class HleBackend:
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
