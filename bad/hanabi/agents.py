"""Trained Hanabi agents anyone can play with: agent files, OpenSpiel and HLE players.

* `save_agent(path, agent)` / `load_agent(path)`: `Agent` files (`bad.hanabi.agent_files`).
* `load_pretrained(name)`: a shipped agent file (`PRETRAINED`) from `PRETRAINED_DIR`.
* `OpenSpielPolicy(agent, game, greedy=False, seed=0)`: an `open_spiel.python.policy.Policy`
  for OpenSpiel's `hanabi` game (`bad.hanabi.open_spiel_player`, whose docstring says how it
  replays a state's history and which keys its moves use).
* `HleAgent(agent, greedy=False, seed=0)`: an `rl_env.Agent` for the Hanabi Learning
  Environment (`bad.hanabi.hle_player`, loaded on first use: only it needs the `hanabi` extra).
"""

from __future__ import annotations

import os
from typing import Any

from bad.hanabi.agent_files import Agent, load_agent, make_agent, save_agent
from bad.hanabi.open_spiel_player import (
    OpenSpielPolicy,
    game_config_of,
    observation_from_open_spiel,
)

# `HleAgent` is served by the module `__getattr__` below.
__all__ = ["Agent", "HleAgent",  # noqa: F822
           "OpenSpielPolicy", "load_agent", "load_pretrained", "make_agent",
           "save_agent", "game_config_of", "observation_from_open_spiel"]


PRETRAINED = ("very_small", "small", "full", "full_3p", "full_4p", "full_5p")
PRETRAINED_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "pretrained")


def load_pretrained(name: str) -> Agent:
    """The pretrained agent `name` (one of `PRETRAINED`), `PRETRAINED_DIR/<name>.npz`."""
    if name not in PRETRAINED:
        raise ValueError(f"pretrained agent must be one of {', '.join(PRETRAINED)}, got {name!r}.")
    path = os.path.join(PRETRAINED_DIR, f"{name}.npz")
    if not os.path.isfile(path):
        raise ValueError(f"pretrained agent {name!r} is not installed: {path} is missing.")
    return load_agent(path)


def __getattr__(name: str) -> Any:
    """`HleAgent`, imported from `bad.hanabi.hle_player` on first use: only it needs the HLE."""
    if name == "HleAgent":
        from bad.hanabi.hle_player import HleAgent
        return HleAgent
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
