"""Hanabi parameters and presets, validated once for every backend.

Shared by `games.hanabi` (OpenSpiel and HLE backends) and `games.hanabi.jax_game`, so that every
backend validates the same parameters the same way and agrees on the feature definitions:

* Card values are indexed `value = color * ranks + rank`.
* The canonical observation of player `p` is OpenSpiel's `observation_tensor(p)` (the Hanabi
  Learning Environment's canonical encoding); `games.hanabi.layout` names where each of its
  fields lies. Its first `private_size` entries are the cards in the other players' hands, seen
  from `p`: that is `p`'s private observation. The rest (the missing-card flags, board, discards,
  last action and card knowledge) is public; `concat(private, public)` is the observation.
* Public card knowledge: for each player (absolute seat order) and hand slot, a 0/1 mask over card
  values allowed by the hints that card has received (HLE's "plausible" bits, which ignore card
  counts). Empty slots (hands shrink in the final round) are all zeros.
* Publicly remaining card counts: for each card value, the number of copies in the full deck minus
  those in the discard pile and those played onto the fireworks, i.e. the copies still in the deck
  or in someone's hand.

OpenSpiel aborts the whole process on parameters its C++ code rejects, so `make_config` checks
everything first and raises a `ValueError` naming the parameter and the allowed range.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from games.hanabi.layout import action_layout, observation_layout

MAX_PLAYERS = 5
MAX_COLORS = 5
MAX_RANKS = 5
# Far above any variant played (HLE's default is 8 and 3) yet bounded, because the observation
# holds a thermometer bit per token; counts over int8's range are valid and tested.
MAX_INFORMATION_TOKENS = 1000
MAX_LIFE_TOKENS = 1000

PRESETS: dict[str, dict[str, int]] = {
    # The Hanabi Learning Environment's presets (2 players unless `players` is given too).
    "full": dict(players=2, colors=5, ranks=5, max_information_tokens=8, max_life_tokens=3),
    "small": dict(players=2, colors=2, ranks=5, hand_size=2, max_information_tokens=3,
                  max_life_tokens=1),
    "very_small": dict(players=2, colors=1, ranks=5, hand_size=2, max_information_tokens=3,
                       max_life_tokens=1),
}

PARAMETERS = ("players", "colors", "ranks", "hand_size", "max_information_tokens",
              "max_life_tokens")


def _length(part: slice) -> int:
    """Entries in a slice of the observation (`games.hanabi.layout`'s are all bounded)."""
    return part.stop - part.start


@dataclasses.dataclass(frozen=True)
class HanabiConfig:
    """A valid Hanabi parameterisation and the sizes derived from it."""

    players: int = 2
    colors: int = 5
    ranks: int = 5
    hand_size: int = 5
    max_information_tokens: int = 8
    max_life_tokens: int = 3

    @property
    def num_values(self) -> int:
        """Number of distinct cards, `colors * ranks`."""
        return self.colors * self.ranks

    def copies_of_rank(self, rank: int) -> int:
        """Copies of each card of `rank` in the deck: 3 of the lowest, 1 of the highest, else 2."""
        if rank == 0:
            return 3
        return 1 if rank == self.ranks - 1 else 2

    @property
    def deck_size(self) -> int:
        return self.colors * sum(self.copies_of_rank(r) for r in range(self.ranks))

    @property
    def max_score(self) -> int:
        return self.colors * self.ranks

    @property
    def num_actions(self) -> int:
        """Discard per slot, play per slot, color hints and rank hints to each other player."""
        return action_layout(self).size

    @property
    def private_size(self) -> int:
        """Entries of the observation holding the other players' cards."""
        return _length(observation_layout(self).private)

    @property
    def section_sizes(self) -> dict[str, int]:
        """Sizes of the canonical observation's sections, in order."""
        return {name: _length(field) for name, field in observation_layout(self).sections.items()}

    @property
    def observation_size(self) -> int:
        return observation_layout(self).size

    @property
    def public_size(self) -> int:
        """Entries of the observation every player sees alike (all but `private_size`)."""
        return _length(observation_layout(self).public)

    def open_spiel_params(self) -> dict[str, int]:
        """Every parameter, spelled as OpenSpiel's and HLE's `hanabi` games take them."""
        return {name: getattr(self, name) for name in PARAMETERS}


ConfigSpec = str | Mapping[str, Any] | HanabiConfig


def preset_with_players(preset: str, players: int = 0) -> HanabiConfig:
    """`make_config` of `preset` with `players` players; 0 keeps the preset's (a command line's
    `--preset` and `--players`). Raises `ValueError` as `make_config` does."""
    return make_config({"preset": preset, **({"players": players} if players else {})})


def _check_int(name: str, value: Any, low: int, high: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"hanabi parameter '{name}' must be an int, got {value!r}.")
    if value < low or (high is not None and value > high):
        allowed = f"{low} to {high}" if high is not None else f"at least {low}"
        raise ValueError(f"hanabi parameter '{name}' must be {allowed}, got {value}.")
    return value


def make_config(spec: ConfigSpec = "full") -> HanabiConfig:
    """Builds a validated `HanabiConfig`.

    Args:
      spec: a preset name (`full`, `small`, `very_small`), a `HanabiConfig`, or a dict of
        parameters (`players, colors, ranks, hand_size, max_information_tokens, max_life_tokens`),
        optionally with `preset` naming the preset the other entries override. A missing
        `hand_size` is 5 for 2-3 players and 4 for 4-5, as in the Hanabi Learning Environment.
        Allowed: 2 to `MAX_PLAYERS` players, 1 to `MAX_COLORS` colors and 1 to `MAX_RANKS`
        ranks, a hand size of at least 1 with every hand dealt from the deck, 1 to
        `MAX_INFORMATION_TOKENS` information and 1 to `MAX_LIFE_TOKENS` life tokens.

    Raises:
      ValueError: unknown preset or parameter name, or a value of the wrong type or range.
    """
    if isinstance(spec, HanabiConfig):
        spec = spec.open_spiel_params()
    if isinstance(spec, str):
        spec = {"preset": spec}
    if not isinstance(spec, Mapping):
        raise ValueError(f"hanabi game must be a preset name or a parameter dict, got {spec!r}.")
    params = dict(spec)
    preset = params.pop("preset", None)
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(
                f"unknown hanabi preset {preset!r}; allowed: {', '.join(sorted(PRESETS))}.")
        params = {**PRESETS[preset], **params}
    unknown = sorted(set(params) - set(PARAMETERS))
    if unknown:
        raise ValueError(
            f"unknown hanabi parameter {unknown[0]!r}; allowed: {', '.join(PARAMETERS)}.")
    players = _check_int("players", params.get("players", 2), 2, MAX_PLAYERS)
    config = HanabiConfig(
        players=players,
        colors=_check_int("colors", params.get("colors", 5), 1, MAX_COLORS),
        ranks=_check_int("ranks", params.get("ranks", 5), 1, MAX_RANKS),
        hand_size=_check_int("hand_size", params.get("hand_size", 5 if players < 4 else 4), 1,
                             None),
        max_information_tokens=_check_int(
            "max_information_tokens", params.get("max_information_tokens", 8), 1,
            MAX_INFORMATION_TOKENS),
        max_life_tokens=_check_int("max_life_tokens", params.get("max_life_tokens", 3), 1,
                                   MAX_LIFE_TOKENS),
    )
    if config.players * config.hand_size > config.deck_size:
        raise ValueError(
            f"hanabi parameter 'hand_size' must be at most {config.deck_size // players} for "
            f"{players} players and a {config.deck_size}-card deck, got {config.hand_size}.")
    return config


def as_config(spec: ConfigSpec) -> HanabiConfig:
    """`make_config(spec)`, validating each distinct `HanabiConfig` only once.

    For entry points called at every step, or traced under `jax.jit` (where it runs once).
    """
    if isinstance(spec, HanabiConfig):
        return _validated(spec)
    return make_config(spec)


@functools.cache
def _validated(config: HanabiConfig) -> HanabiConfig:
    make_config(config)
    return config


_Function = TypeVar("_Function", bound=Callable[..., Any])


def accepts_config_spec(function: _Function) -> _Function:
    """Lets `function`, whose first argument is a `HanabiConfig`, take any `ConfigSpec` there.

    The conversion (`as_config`) runs in Python: once when traced under `jit`, at every call
    outside it.
    """
    @functools.wraps(function)
    def with_config(config: ConfigSpec, *args, **kwargs):
        return function(as_config(config), *args, **kwargs)
    return with_config  # type: ignore[return-value]
