"""Another player's view of the public observation: the seat rotation of the canonical encoding.

The public part of the canonical observation (`games.hanabi_layout`) is the same for every
observer up to the seat rotation: the fields listed per player (the missing-card flags and the
card knowledge) and the last action's player and target are by offset from the observer. So any
player can compute what the public part of another player's observation is, e.g. the acting
player's, from its own.
"""

from __future__ import annotations

import numpy as np

from games.hanabi_config import HanabiConfig
from games.hanabi_layout import observation_layout


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
