"""OpenSpiel's `tiny_hanabi` (BAD's two-step matrix game) and normal-form matrix games.

`TinyHanabi(params)` loads `tiny_hanabi` through pyspiel and reads its payoff tensor by playing
every chance and action path of the game, so the numbers always come from OpenSpiel. With the
default parameters it is the two-step matrix game of Foerster et al. (2019): two players, two
private cards, three actions, optimum 10.

The pure-JAX half (`deal`, `act`, `reward`) works on batches of `jnp` arrays, for use inside
jitted training loops: cards are `int32[..., num_players]`, actions `int32[..., num_players]`.

`load_matrix_game(name)` returns the payoff tensor `[num_players, actions_0, ..., actions_n-1]`
of any one-shot simultaneous-move OpenSpiel game (`matrix_pd`, `matrix_sh`, ...).

Bad input (unknown game, a parameter of the wrong type or out of range, a payoff string of the
wrong length, anything else pyspiel rejects) raises `ValueError` with one sentence.
"""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import Iterator, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import pyspiel

from games import sampling

GAME_NAME = "tiny_hanabi"
INT_PARAMS = ("num_players", "num_chance", "num_actions")

ParamValue = int | str


@contextlib.contextmanager
def _silenced_stderr() -> Iterator[None]:
    """Silences the C++ side's own copy of an error message, which pyspiel writes to fd 2."""
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _load(name: str, params: Mapping[str, ParamValue]) -> pyspiel.Game:
    """`pyspiel.load_game`, with OpenSpiel's errors turned into a one-sentence `ValueError`."""
    if name not in pyspiel.registered_names():
        raise ValueError(f"unknown OpenSpiel game {name!r}; see pyspiel.registered_names().")
    try:
        with _silenced_stderr():
            return pyspiel.load_game(name, dict(params))
    except pyspiel.SpielError as error:
        reason = " ".join(str(error).split("\n")[-1].split())
        raise ValueError(
            f"OpenSpiel rejected game {name!r} with {dict(params)}: {reason}.") from None


def _checked_params(params: Mapping[str, ParamValue] | None) -> dict[str, ParamValue]:
    """Checks `tiny_hanabi` parameters before pyspiel sees them, naming what is allowed."""
    params = dict(params or {})
    allowed = (*INT_PARAMS, "payoff")
    for key, value in params.items():
        if key not in allowed:
            raise ValueError(
                f"tiny_hanabi has no parameter {key!r}; allowed: {', '.join(allowed)}.")
        if key in INT_PARAMS:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"tiny_hanabi parameter {key} must be an int, got {value!r}.")
            if value < 1:
                raise ValueError(f"tiny_hanabi parameter {key} must be at least 1, got {value}.")
        if key == "payoff" and not isinstance(value, str):
            raise ValueError(f"tiny_hanabi parameter payoff must be a ';'-separated string of "
                             f"numbers, got {value!r}.")
    defaults = pyspiel.load_game(GAME_NAME).get_parameters()
    sizes = {key: params.get(key, defaults[key]) for key in INT_PARAMS}
    payoff = str(params.get("payoff", defaults["payoff"]))  # a string: checked above
    entries = payoff.split(";")
    try:
        [float(entry) for entry in entries]
    except ValueError:
        raise ValueError(f"tiny_hanabi parameter payoff must be ';'-separated numbers, "
                         f"got {payoff[:40]!r}.") from None
    if len(entries) != payoff_size(**sizes):
        raise ValueError(f"tiny_hanabi with {sizes} needs a payoff parameter of "
                         f"{payoff_size(**sizes)} ';'-separated numbers, got {len(entries)}"
                         f"{'' if 'payoff' in params else ' (the default payoff)'}.")
    return params


def payoff_size(num_players: int, num_chance: int, num_actions: int) -> int:
    """Number of entries in a `tiny_hanabi` payoff string: (chance * actions) ** players."""
    return (num_chance * num_actions) ** num_players


def payoff_string(payoffs: np.ndarray) -> str:
    """The `payoff` parameter for a tensor `[num_chance]*P + [num_actions]*P` (row-major)."""
    return ";".join(f"{value:g}" for value in np.asarray(payoffs, dtype=np.float64).ravel())


class TinyHanabi:
    """OpenSpiel's `tiny_hanabi`, with its payoffs and chance probabilities as numpy arrays.

    Attributes:
      game: the pyspiel game.
      params: the game's full parameter dict, as pyspiel reports it.
      num_players, num_chance, num_actions: sizes (each player gets one of `num_chance` private
        cards, then players act in turn, each seeing all earlier actions).
      chance_probs: float32[num_chance], the deal distribution of every player's card.
      payoffs: float32[[num_chance] * num_players + [num_actions] * num_players], the common
        payoff of every card and action combination, read by playing each path in pyspiel.
    """

    def __init__(self, params: Mapping[str, ParamValue] | None = None):
        self.game = _load(GAME_NAME, _checked_params(params))
        self.params = dict(self.game.get_parameters())
        self.num_players = int(self.params["num_players"])
        self.num_chance = int(self.params["num_chance"])
        self.num_actions = int(self.params["num_actions"])
        self.chance_probs = self._read_chance_probs()
        self.payoffs = self._read_payoffs()

    def _read_chance_probs(self) -> np.ndarray:
        outcomes = dict(self.game.new_initial_state().chance_outcomes())
        return np.array([outcomes.get(card, 0.0) for card in range(self.num_chance)], np.float32)

    def _read_payoffs(self) -> np.ndarray:
        players, cards, actions = self.num_players, self.num_chance, self.num_actions
        payoffs = np.zeros([cards] * players + [actions] * players, np.float32)
        for deal_ in itertools.product(range(cards), repeat=players):
            dealt = self.game.new_initial_state()
            for card in deal_:
                dealt.apply_action(card)
            for joint in itertools.product(range(actions), repeat=players):
                state = dealt.clone()
                for action in joint:
                    state.apply_action(action)
                payoffs[deal_ + joint] = state.returns()[0]
        return payoffs

    @property
    def optimum(self) -> float:
        """Best expected payoff of any joint deterministic policy (brute force; small games)."""
        return float(optimal_value(self.payoffs, self.chance_probs))

    def __repr__(self) -> str:
        return (f"TinyHanabi(num_players={self.num_players}, num_chance={self.num_chance}, "
                f"num_actions={self.num_actions})")


def optimal_value(payoffs: np.ndarray, chance_probs: np.ndarray) -> float:
    """Best expected payoff over deterministic policies of a 2-player game, by brute force.

    Player 1 maps its card to an action; player 2 best-responds to (its card, player 1's action)
    given the posterior over player 1's card. Only defined for two players.
    """
    num_chance, num_actions = payoffs.shape[0], payoffs.shape[-1]
    if payoffs.ndim != 4:
        raise ValueError("optimal_value is only defined for 2-player tiny_hanabi games.")
    best = -np.inf
    for first in itertools.product(range(num_actions), repeat=num_chance):
        value = 0.0
        for card_2, action_1 in itertools.product(range(num_chance), range(num_actions)):
            weights = np.array([chance_probs[c] * (first[c] == action_1)
                                for c in range(num_chance)])
            # Expected payoff of each reply, summed over player 1's cards that play action_1.
            replies = np.einsum("c,ca->a", weights, payoffs[:, card_2, action_1, :])
            value += chance_probs[card_2] * replies.max()
        best = max(best, value)
    return best


def load_matrix_game(name: str, params: Mapping[str, ParamValue] | None = None) -> np.ndarray:
    """Payoff tensor float32[num_players, actions_0, ..., actions_{n-1}] of a normal-form game.

    Works for any one-shot simultaneous-move OpenSpiel game without chance (`matrix_pd`,
    `matrix_sh`, `matrix_rps`, `matching_pennies_3p`, ...); `payoffs[p, a_0, ..., a_n-1]` is
    player p's return when the players choose actions `a_0, ..., a_n-1`.
    """
    game = _load(name, params or {})
    game_type = game.get_type()
    if (game_type.dynamics != pyspiel.GameType.Dynamics.SIMULTANEOUS
            or game_type.chance_mode != pyspiel.GameType.ChanceMode.DETERMINISTIC
            or game.max_game_length() != 1):
        raise ValueError(f"{name!r} is not a one-shot simultaneous-move game without chance; "
                         f"use a normal-form game such as 'matrix_pd'.")
    initial = game.new_initial_state()
    sizes = [len(initial.legal_actions(player)) for player in range(game.num_players())]
    payoffs = np.zeros([game.num_players()] + sizes, np.float32)
    for indices in itertools.product(*(range(size) for size in sizes)):
        state = initial.clone()
        state.apply_actions([initial.legal_actions(p)[i] for p, i in enumerate(indices)])
        payoffs[(slice(None),) + indices] = state.returns()
    return payoffs


# Pure-JAX batched game: small functions on jnp arrays, for jitted training loops.

def deal(key: jax.Array, chance_probs: jax.Array, num_players: int,
         batch_shape: tuple[int, ...] = ()) -> jax.Array:
    """Deals every player an independent private card: int32[*batch_shape, num_players]."""
    return act(key, jnp.broadcast_to(chance_probs,
                                     (*batch_shape, num_players, chance_probs.shape[-1])))


def act(key: jax.Array, probs: jax.Array) -> jax.Array:
    """Samples one action per row of `probs` (float[..., num_actions]) by inverse CDF."""
    return sampling.draw(key, probs)


def reward(payoffs: jax.Array, cards: jax.Array, actions: jax.Array) -> jax.Array:
    """The common payoff of each deal and action sequence: float[...] from int[..., P] inputs."""
    num_players = cards.shape[-1]
    flat = payoffs.reshape(-1)
    index = jnp.zeros(cards.shape[:-1], jnp.int32)
    for size, value in ([(payoffs.shape[p], cards[..., p]) for p in range(num_players)]
                        + [(payoffs.shape[num_players + p], actions[..., p])
                           for p in range(num_players)]):
        index = index * size + value
    return flat[index]
