"""Another player's view of the public observation: the seat rotation of the canonical encoding.

The public part of the canonical observation (`games.hanabi.layout`) is the same for every
observer up to the seat rotation: the fields listed per player (the missing-card flags and the
card knowledge) and the last action's player and target are by offset from the observer. So any
player can compute what the public part of another player's observation is, e.g. the acting
player's, from its own.
"""

from __future__ import annotations

import numpy as np

from games.hanabi.config import HanabiConfig
from games.hanabi.layout import observation_layout


def rotate_public(config: HanabiConfig, public: np.ndarray, offset: int) -> np.ndarray:
    """The public observation [..., public_size] of the player `offset` seats after the
    observer whose public observation is `public`."""
    layout = observation_layout(config)
    players = config.players
    if public.shape[-1] != config.public_size:
        raise ValueError(f"hanabi public observation must have {config.public_size} entries in "
                         f"its last axis, got shape {tuple(public.shape)}.")
    shift = offset % players
    rotated = np.array(public, copy=True)
    batch = public.shape[:-1]
    for field, per_player in ((layout.missing_cards, 1), (layout.last_player, 1),
                              (layout.last_target, 1),
                              (layout.card_knowledge,
                               config.hand_size * layout.knowledge_width)):
        where = layout.in_public(field)
        blocks = public[..., where].reshape(*batch, players, per_player)
        rotated[..., where] = np.roll(blocks, -shift, axis=-2).reshape(*batch, -1)
    return rotated


COLOR_CHARS = "RYGWB"  # HLE's color names, in color index order


def _one_hot_index(bits: np.ndarray) -> int | None:
    """The set bit of a one-hot vector, None when all are zero."""
    return int(np.argmax(bits)) if bits.any() else None


def hle_observation_dict(config: HanabiConfig, observation: np.ndarray,
                         current_player_offset: int) -> dict:
    """The entries of an HLE `rl_env` observation dict that rule-based agents such as HLE's
    `SimpleAgent` read (`current_player_offset`, `num_players`, `information_tokens`,
    `fireworks`, `observed_hands`, `card_knowledge`), from a canonical observation [size]."""
    layout = observation_layout(config)
    players, hand, values = config.players, config.hand_size, config.num_values
    partner_cards = observation[layout.partner_cards].reshape(players - 1, hand, values)
    missing = observation[layout.missing_cards] > 0
    knowledge = observation[layout.card_knowledge].reshape(players, hand, layout.knowledge_width)
    fireworks = observation[layout.fireworks].reshape(config.colors, config.ranks)
    # An HLE card dict: a color letter, or None where unknown; a rank, -1 for an unseen own card.
    hands: list[list[dict[str, str | int | None]]] = []
    hints: list[list[dict[str, str | int | None]]] = []
    for offset in range(players):
        held = hand - int(missing[offset])
        if offset == 0:
            hands.append([{"color": None, "rank": -1} for _ in range(held)])
        else:
            cards = [divmod(int(np.argmax(card)), config.ranks)
                     for card in partner_cards[offset - 1, :held]]
            hands.append([{"color": COLOR_CHARS[color], "rank": rank} for color, rank in cards])
        slots = [(_one_hot_index(block[layout.knowledge_color]),
                  _one_hot_index(block[layout.knowledge_rank]))
                 for block in knowledge[offset, :held]]
        hints.append([{"color": None if color is None else COLOR_CHARS[color], "rank": rank}
                      for color, rank in slots])
    return {
        "current_player_offset": current_player_offset, "num_players": players,
        "information_tokens": int(observation[layout.information_tokens].sum()),
        "fireworks": {COLOR_CHARS[color]: (int(np.argmax(row)) + 1 if row.any() else 0)
                      for color, row in enumerate(fireworks)},
        "observed_hands": hands, "card_knowledge": hints,
    }
