"""Cross-play of trained Hanabi agents through OpenSpiel.

    python -m experiments.hanabi_crossplay --agents=a.npz,b.npz --num_games=100 --seed=0 \\
        --output_dir=runs/crossplay

Every ordered pair of agents (self-play included) plays `--num_games` games on the same deals
(with `--simple_agent`, HLE's rule-based `SimpleAgent` is one more agent, named `simple`: it reads
`games.hanabi.views.hle_observation_dict` of its OpenSpiel observation):
seat 0 is the row agent, every other seat the column agent. Each agent is a
`bad.hanabi.agents.OpenSpielPolicy`; both agents of game `g` share its key `split(key(seed), N)[g]`,
so their public samples agree. Writes `results.json` (mean scores and standard errors),
`crossplay.csv` (the matrix of mean scores) and `crossplay.png` (its heatmap).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import jax
import numpy as np
import pyspiel
from hanabi_learning_environment import pyhanabi
from hanabi_learning_environment.agents.simple_agent import SimpleAgent

from bad.hanabi import agents
from experiments import common, config_flags, plots, run_files
from games import hanabi
from games.hanabi import views as hanabi_views
from games.hanabi.config import HanabiConfig


@dataclasses.dataclass(frozen=True)
class CrossplayConfig:
    """The agents that play each other, how many games, and where the results go.

    Attributes:
      agents: Agent files (bad.hanabi.agents.save_agent), comma-separated.
      num_games: Games per ordered pair of agents.
      seed: Seed of the deals and of the agents' move keys.
      greedy: Agents play their most likely action instead of sampling.
      simple_agent: Add HLE's rule-based SimpleAgent as one more player.
      output_dir: Where the results go.
    """

    agents: tuple[str, ...] = ()
    num_games: int = 100
    seed: int = 0
    greedy: bool = False
    simple_agent: bool = False
    output_dir: str = "runs/hanabi_crossplay"

    def __post_init__(self):
        if not self.num_games > 0:
            raise ValueError(f"num_games must be positive, got {self.num_games}.")
        if not 0 <= self.seed <= common.SEED_MAX:
            raise ValueError(f"seed must be in [0, {common.SEED_MAX}], got {self.seed}.")
        for index, path in enumerate(self.agents):
            if path in self.agents[:index]:
                raise ValueError(f"agents lists {path} twice; give each entry once.")
        if not self.agents:
            raise ValueError("agents must list at least one agent file.")


CROSSPLAY_FLAGS = tuple(field.name for field in dataclasses.fields(CrossplayConfig))
config_flags.define(CrossplayConfig, CROSSPLAY_FLAGS)


def load_agents(paths: Sequence[str]) -> list[agents.Agent]:
    """The agents of `paths` (at least one), all of one game; raises `ValueError` naming a bad
    file."""
    loaded = [agents.load_agent(path) for path in paths]
    for path, agent in zip(paths, loaded):
        if agent.config.game != loaded[0].config.game:
            raise common.ExperimentError(
                f"agent file {path} plays {agent.config.game.open_spiel_params()}, but "
                f"{paths[0]} plays {loaded[0].config.game.open_spiel_params()}.")
    return loaded


class SimplePolicy:
    """HLE's `SimpleAgent` as a deterministic player of OpenSpiel `hanabi` states."""

    def __init__(self, config: HanabiConfig):
        self.config = config
        self._agent = SimpleAgent({"players": config.players,
                                   "information_tokens": config.max_information_tokens})
        self._moves = pyhanabi.HanabiGame(dict(config.open_spiel_params()))

    def action_probabilities(self, state) -> dict[int, float]:
        """{the SimpleAgent's move: 1} of the player to move."""
        observation = np.asarray(state.observation_tensor(state.current_player()), np.float32)
        move = self._agent.act(hanabi_views.hle_observation_dict(self.config, observation, 0))
        kind = move["action_type"]
        if kind == "PLAY":
            hle_move = pyhanabi.HanabiMove.get_play_move(move["card_index"])
        elif kind == "DISCARD":
            hle_move = pyhanabi.HanabiMove.get_discard_move(move["card_index"])
        else:  # SimpleAgent hints colors only
            hle_move = pyhanabi.HanabiMove.get_reveal_color_move(
                move["target_offset"], hanabi_views.COLOR_CHARS.index(move["color"]))
        return {int(self._moves.get_move_uid(hle_move)): 1.0}


def _seat(player, game, greedy: bool, game_key):
    """The OpenSpiel-policy of an `Agent` or `SimplePolicy` for one game."""
    if isinstance(player, SimplePolicy):
        return player
    return agents.OpenSpielPolicy(player, game, greedy=greedy, game_key=game_key)


def _seat_all(players: Sequence, game, greedy: bool, game_key) -> list:
    """The policy of each seat (`_seat`) for one game; a player in several seats gets one
    policy for all of them, so that its evidence (the same in every seat) is computed once."""
    policies = {}
    for player in players:
        if id(player) not in policies:
            policies[id(player)] = _seat(player, game, greedy, game_key)
    return [policies[id(player)] for player in players]


def play_game(game, seated: Sequence, deck: np.ndarray,
              rng: np.random.Generator) -> int:
    """One game dealt from `deck`; seat `p` plays from `seated[p]`. Returns the score."""
    state, dealt = game.new_initial_state(), 0
    while not state.is_terminal():
        if state.is_chance_node():
            state.apply_action(int(deck[dealt]))
            dealt += 1
            continue
        probs = seated[state.current_player()].action_probabilities(state)
        actions = list(probs)
        state.apply_action(int(actions[rng.choice(len(actions), p=list(probs.values()))]))
    return int(state.returns()[0])


def crossplay(loaded: Sequence, num_games: int, seed: int, greedy: bool,
              progress: common.Progress | None = None) -> np.ndarray:
    """Scores [row agent, column agent, game] of every ordered pair on the same deals
    (`loaded`: `Agent`s of one game, then optionally a `SimplePolicy` of it)."""
    config = loaded[0].config.game if isinstance(loaded[0], agents.Agent) else loaded[0].config
    game = pyspiel.load_game("hanabi", config.open_spiel_params())
    decks = hanabi.random_decks(config, num_games, np.random.default_rng(seed))
    game_keys = jax.random.split(jax.random.PRNGKey(seed), num_games)
    scores = np.zeros((len(loaded), len(loaded), num_games), np.int64)
    done = 0
    for row, first in enumerate(loaded):
        for column, second in enumerate(loaded):
            for index, deck in enumerate(decks):
                seated = _seat_all([first] + [second] * (config.players - 1), game, greedy,
                                   game_keys[index])
                rng = np.random.default_rng([seed, row, column, index])
                scores[row, column, index] = play_game(game, seated, deck, rng)
                done += 1
                if progress is not None:
                    progress.update(done, {"mean_score": scores[row, column, :index + 1].mean()},
                                    force=done == scores.size)
    return scores


def save_heatmap(path: str, means: np.ndarray, names: Sequence[str], max_score: int) -> None:
    """The matrix of mean scores as an annotated heatmap PNG."""
    figure, axes = plots.new_figure(size=(1.6 + 1.1 * len(names), 1.2 + 1.0 * len(names)))
    ax = axes[0, 0]
    image = ax.imshow(means, vmin=0, vmax=max_score, cmap="viridis")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("seat 1 (column agent)")
    ax.set_ylabel("seat 0 (row agent)")
    for (row, column), value in np.ndenumerate(means):
        ax.text(column, row, f"{value:.2f}", ha="center", va="center", color="white")
    figure.colorbar(image, ax=ax, label="mean score")
    plots.save_figure(figure, path)


def main(argv: Sequence[str]) -> None:
    del argv  # run_main refuses positional arguments
    run = config_flags.build(CrossplayConfig, CROSSPLAY_FLAGS)
    loaded = load_agents(run.agents)
    players = loaded + ([SimplePolicy(loaded[0].config.game)] if run.simple_agent else [])
    output_dir = run_files.prepare_output_dir(run.output_dir)
    pairs = len(players) ** 2
    scores = crossplay(players, run.num_games, run.seed, run.greedy,
                       common.Progress(pairs * run.num_games))
    means = scores.mean(-1)
    stderr = (scores.std(-1, ddof=1) / np.sqrt(run.num_games) if run.num_games > 1
              else np.zeros_like(means))
    names = [os.path.basename(path) for path in run.agents]
    if len(set(names)) < len(names):
        names = list(run.agents)
    names += ["simple"] if run.simple_agent else []
    config = loaded[0].config.game
    run_files.write_json(os.path.join(output_dir, "results.json"), {
        "agents": names, "files": list(run.agents), "game": config.open_spiel_params(),
        "num_games": run.num_games, "seed": run.seed, "greedy": run.greedy,
        "mean_score": means, "score_stderr": stderr})
    run_files.write_csv(os.path.join(output_dir, "crossplay.csv"),
                     [{"agent": name, **dict(zip(names, row))} for name, row in zip(names, means)])
    save_heatmap(os.path.join(output_dir, "crossplay.png"), means, names, config.max_score)
    print(common.format_table([[name, *(f"{v:.2f}" for v in row)]
                               for name, row in zip(names, means)], ["seat 0 \\ seat 1", *names]))


if __name__ == "__main__":
    common.run_main(main)
