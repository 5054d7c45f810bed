"""The enumeration of a `tiny_hanabi` game's public histories and games, for exact scoring.

BAD's matrix-game learner (`bad.matrix_game`) evaluates its networks on every distinct input at
once and scores the final policies exactly, over every deal and every choice of every partial
policy. This module builds those static tables (numpy, from the game's sizes only). `Game`, the
game's arrays, is declared here, below `bad.matrix_game`, which re-exports it.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from bad import belief as belief_lib


class Game(NamedTuple):
    """The arrays of a `tiny_hanabi` game; its sizes are read from the shapes."""

    payoffs: jax.Array  # float32[[num_chance] * P + [num_actions] * P]
    chance_probs: jax.Array  # float32[num_chance]

    @property
    def num_players(self) -> int:
        return self.payoffs.ndim // 2

    @property
    def num_chance(self) -> int:
        return self.payoffs.shape[0]

    @property
    def num_actions(self) -> int:
        return self.payoffs.shape[-1]


MAX_ENUMERATION = 1 << 20  # games (deals times choices) that exact scoring may enumerate


@dataclasses.dataclass(frozen=True)
class Enumeration:
    """Every public history and every game, for one game size and method.

    A public history of player p is p *codes*, one per earlier player: its action, and for BAD
    which of its cards the partial policy mapped to that action (so the exact belief).
    History h of player p has policy rows `h * C + c` (own card c) and baseline rows
    `h * C + c` (`own`) or `h * C**P + deal index` (`central`).

    Attributes:
      code_actions: int[M], each code's action.
      code_partials: int[M, C], a partial policy that produces each code (for its belief).
      code_of: int[A, 2**C], the code of (action, bit mask of consistent cards).
      digits: per player p, int[M**p, p], the codes of every history, earliest first.
      path_cards: int[N, P], path_actions: int[N, P], every game: deal and actions.
      path_terms: int[N, T], every game's choices as indices into all policy tables, flattened
        and concatenated (`C` terms per partial policy, one for the last action).
    """

    code_actions: np.ndarray
    code_partials: np.ndarray
    code_of: np.ndarray
    digits: tuple[np.ndarray, ...]
    path_cards: np.ndarray
    path_actions: np.ndarray
    path_terms: np.ndarray

    @property
    def num_codes(self) -> int:
        return len(self.code_actions)


@functools.cache
def enumerate_game(num_players: int, num_chance: int, num_actions: int,
                   uses_belief: bool) -> Enumeration:
    """Builds the `Enumeration`; raises `ValueError` when the game is too big to enumerate."""
    players, cards, actions = num_players, num_chance, num_actions
    num_paths = cards ** players * actions ** (cards * (players - 1) + 1)
    if num_paths > MAX_ENUMERATION:
        raise ValueError(f"tiny_hanabi with {players} players, {cards} cards and {actions} actions "
                         f"has {num_paths} games to score exactly; at most {MAX_ENUMERATION} fit.")
    representatives: dict[tuple[int, int], tuple[int, ...]] = {}
    for partial in itertools.product(range(actions), repeat=cards):
        for action in set(partial):
            representatives.setdefault((action, _mask(partial, action, uses_belief)), partial)
    keys = sorted(representatives)
    code_of = np.zeros((actions, 2 ** cards), np.int32)
    for code, (action, mask) in enumerate(keys):
        code_of[action, mask if uses_belief else slice(None)] = code
    num_codes = len(keys)
    digits = tuple(np.array(list(itertools.product(range(num_codes), repeat=p)), np.int32)
                   .reshape(num_codes ** p, p) for p in range(players))
    offsets = np.cumsum([0] + [num_codes ** p * cards * actions for p in range(players)])
    path_cards, path_actions, path_terms = [], [], []
    for deal in itertools.product(range(cards), repeat=players):
        for choices in itertools.product(range(actions), repeat=cards * (players - 1) + 1):
            history, taken, terms = 0, [], []
            for p in range(players - 1):
                partial = choices[p * cards:(p + 1) * cards]
                action = partial[deal[p]]
                terms += [offsets[p] + (history * cards + c) * actions + partial[c]
                          for c in range(cards)]
                taken.append(action)
                history = history * num_codes + code_of[action, _mask(partial, action, uses_belief)]
            taken.append(choices[-1])
            terms.append(offsets[-2] + (history * cards + deal[-1]) * actions + choices[-1])
            path_cards.append(deal)
            path_actions.append(taken)
            path_terms.append(terms)
    return Enumeration(
        code_actions=np.array([a for a, _ in keys], np.int32),
        code_partials=np.array([representatives[k] for k in keys], np.int32),
        code_of=code_of, digits=digits,
        path_cards=np.array(path_cards, np.int32).reshape(num_paths, players),
        path_actions=np.array(path_actions, np.int32).reshape(num_paths, players),
        path_terms=np.array(path_terms, np.int32).reshape(num_paths, -1))


def _mask(partial: tuple[int, ...], action: int, uses_belief: bool) -> int:
    """Bit mask of the cards `partial` maps to `action` (0 when beliefs are not used)."""
    return sum(1 << c for c, a in enumerate(partial) if a == action) if uses_belief else 0


def code_features(game: Game, enum: Enumeration, uses_belief: bool) -> jax.Array:
    """float[M, F]: each code's one-hot action and, for BAD, the exact belief it leaves."""
    one_hot = jax.nn.one_hot(enum.code_actions, game.num_actions, dtype=jnp.float32)
    if not uses_belief:
        return one_hot
    beliefs = belief_lib.belief_update(game.chance_probs, jnp.asarray(enum.code_partials),
                                       jnp.asarray(enum.code_actions))
    return jnp.concatenate([one_hot, beliefs], axis=-1)


def public_features(game: Game, enum: Enumeration, player: int,
                    uses_belief: bool) -> jax.Array:
    """float[M**player, player * F]: the public input of each of the player's histories."""
    per_code = code_features(game, enum, uses_belief)
    histories = enum.digits[player]
    return per_code[histories].reshape(histories.shape[0], -1)


def with_cards(public: jax.Array, cards: jax.Array) -> jax.Array:
    """float[H * K, F + G]: every public row (float[H, F]) next to every card row (float[K, G])."""
    h, k = public.shape[0], cards.shape[0]
    return jnp.concatenate([jnp.repeat(public, k, axis=0), jnp.tile(cards, (h, 1))], axis=-1)
