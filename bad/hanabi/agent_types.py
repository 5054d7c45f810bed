"""The vocabulary every module of the Hanabi agent shares: `AgentConfig` and `Observation`.

It sits below the agent's modules (`bad.hanabi.network`, `bad.hanabi.likelihood`, the beliefs and
`bad.hanabi.agent`, which re-exports both names) and imports none of them, so that each of them
can name the agent's settings without an import circle.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import jax

from games.hanabi import rules as hanabi_rules
from games.hanabi.config import HanabiConfig

# The exact joint belief enumerates both hands of a two-player game with two-card hands.
EXACT_BELIEF_PLAYERS = 2
EXACT_BELIEF_HAND_SIZE = 2


def check_exact_belief_supported(game: HanabiConfig) -> None:
    """Raises ValueError unless `game` has two players with two-card hands."""
    if game.players != EXACT_BELIEF_PLAYERS or game.hand_size != EXACT_BELIEF_HAND_SIZE:
        raise ValueError(f"the exact belief needs {EXACT_BELIEF_PLAYERS} players with "
                         f"{EXACT_BELIEF_HAND_SIZE}-card hands, got players={game.players} and "
                         f"hand_size={game.hand_size}.")


METHODS = ("bad", "ippo")


@dataclasses.dataclass(frozen=True)
class AgentConfig:
    """The agent's static settings (hashable: a static argument to `jax.jit`).

    Attributes:
      game: the Hanabi game it plays.
      method: bad: public belief and partial policies; ippo: independent actor-critic on the
        players' own observations.
      hidden_sizes: Hidden layer sizes (the first is the rank-one layer).
      likelihood_floor: BAD: the smallest probability an action's likelihood is given.
      min_log_likelihood: BAD: the smallest log-likelihood a game's belief evidence keeps.
      cf_weight: BAD: weight of the counterfactual log-probability term.
      likelihood_samples: BAD: public hands sampled from the belief to fill the other partner
        slots when estimating an action's likelihood (averaged).
      v2_alpha: BAD: the public belief is V2 = (1 - a) * BB + a * V1 (the paper uses 0.01 or
        0.1); 0 keeps BB.
      exact_belief: BAD: track the exact joint public belief of both hands instead of BB (2
        players with 2-card hands, e.g. small and very_small).
    """

    game: HanabiConfig
    method: str = "bad"
    hidden_sizes: tuple[int, ...] = (256,)
    likelihood_floor: float = 0.01
    min_log_likelihood: float = -15.0
    cf_weight: float = 1.0
    likelihood_samples: int = 1
    v2_alpha: float = 0.0
    exact_belief: bool = False

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}.")
        if not self.hidden_sizes or any(int(size) < 1 for size in self.hidden_sizes):
            raise ValueError(f"hidden_sizes must be positive layer widths, got "
                             f"{self.hidden_sizes}.")
        checks = {"likelihood_floor": 0 < self.likelihood_floor <= 1,
                  "min_log_likelihood": -math.inf < self.min_log_likelihood < 0,
                  "cf_weight": 0 <= self.cf_weight < math.inf,
                  "likelihood_samples": self.likelihood_samples >= 1,
                  "v2_alpha": 0 <= self.v2_alpha <= 1}
        for name, valid in checks.items():
            if not valid:
                raise ValueError(f"AgentConfig.{name} is out of range: {getattr(self, name)!r}.")
        if not self.is_bad and (self.v2_alpha or self.likelihood_samples != 1
                                or self.exact_belief):
            raise ValueError("v2_alpha, likelihood_samples and exact_belief apply to method "
                             "'bad' only.")
        if self.exact_belief:
            if self.v2_alpha > 0 or self.likelihood_samples != 1:
                raise ValueError("v2_alpha and likelihood_samples apply to the factorised belief, "
                                 "not to exact_belief.")
            check_exact_belief_supported(self.game)

    @property
    def is_bad(self) -> bool:
        return self.method == "bad"

    @property
    def belief_name(self) -> str:
        """Which public belief the agent keeps: "v0" (IPPO), "bb", "v2" or "exact"."""
        if not self.is_bad:
            return "v0"
        if self.exact_belief:
            return "exact"
        return "v2" if self.v2_alpha > 0 else "bb"

    @property
    def belief_size(self) -> int:
        return self.game.players * self.game.hand_size * self.game.num_values

    @property
    def status_size(self) -> int:
        """Per hand slot: probability of each card status (`status_features`)."""
        return self.game.players * self.game.hand_size * hanabi_rules.NUM_CARD_STATUSES

    @property
    def public_input_size(self) -> int:
        """Public observation, the public belief (BAD only) and the card status features."""
        return (self.game.public_size + (self.belief_size if self.is_bad else 0)
                + self.status_size)

    @property
    def critic_input_size(self) -> int:
        """Public input plus every hand (BAD, centralised) or the partners' hands (IPPO)."""
        hands = self.belief_size if self.is_bad else self.game.private_size
        return self.public_input_size + hands


class Observation(NamedTuple):
    """What the acting player's agent is given about one game: public facts, and its private view
    `partner_hands` (which `observe` never reads)."""

    public_observation: jax.Array  # float [public_size], the acting player's
    partner_hands: jax.Array       # int [players - 1, hand_size]: values by seat offset, -1 empty
    card_knowledge: jax.Array      # bool [players, hand_size, values], absolute seats
    remaining_counts: jax.Array    # int [values]
    legal_actions: jax.Array       # bool [num_actions]
    current_player: jax.Array      # int []
