"""Features read from the canonical Hanabi observation, vectorised over any leading batch axes.

The batched C++ games (`games.hanabi.batched`) and the pure-JAX game's tests read legal actions,
card knowledge and remaining card counts from the observation with these functions, with the
layout of `games.hanabi.layout` and the rules of `games.hanabi.rules`; the tests check them
against both C++ rule sets and an independent replay.
"""

from __future__ import annotations

import functools

import numpy as np

from games.hanabi.config import HanabiConfig
from games.hanabi.layout import observation_layout
from games.hanabi.rules import copies_per_value, legal_actions, partner_hands_from_private


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
    partners' cards, for `games.hanabi.rules.legal_actions`.
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
