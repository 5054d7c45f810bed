"""The headline demo behind `make demo`: a few minutes on the CPU, one results table at the end.

1. Games through the adapters: random legal play of Hanabi on both backends (OpenSpiel and the
   Hanabi Learning Environment, same deals, so the same scores), and the payoffs of BAD's
   two-step matrix game read from OpenSpiel's `tiny_hanabi`.
2. BAD on the two-step matrix game: BAD with counterfactual gradients against plain policy
   gradient, many seeds in one compiled run (`experiments.bad_matrix_game`).
3. Graph networks: a short shortest-path run (`experiments.gn_shortest_path`).
4. The pretrained two-player Full BAD agent (`bad.hanabi.agents.load_pretrained("full")`) plays a
   few games with itself through OpenSpiel (`bad.hanabi.evaluation.play_open_spiel`).

Each binary writes its `results.json`, `metrics.csv` and plots under `--output_dir`
(default `runs/demo`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence

import jax
import numpy as np

from bad.hanabi import agents
from bad.hanabi import evaluation as hanabi_evaluation
from experiments import common, config_flags, run_files
from games import hanabi, tiny_hanabi


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    """The demo's one setting.

    Attributes:
      output_dir: Where the demo runs write.
    """

    output_dir: str = "runs/demo"


DEMO_FLAGS = ("output_dir",)
config_flags.define(DemoConfig, DEMO_FLAGS)

# Short versions of the full runs in docs/RESULTS.md (see there for those and their numbers).
BAD_MATRIX_FLAGS = ("--methods=bad_cf,pg", "--num_seeds=100", "--num_updates=4000",
                    "--entropy_cost=3", "--eval_every=100")
SHORTEST_PATH_FLAGS = ("--num_iterations=500", "--num_eval_graphs=200", "--log_every=50",
                       "--checkpoint_every=500")
PRETRAINED_GAMES = 10  # its 1,000-game score is in its header and docs/RESULTS.md


def _run_binary(module: str, output_dir: str, extra_flags: Sequence[str]) -> dict:
    """Runs `python -m module` with its output shown, and returns its results.json.

    Raises `ExperimentError` with the child's own error line when it fails.
    """
    command = [sys.executable, "-m", module, f"--output_dir={output_dir}", *extra_flags]
    print(f"\n$ {' '.join(command[1:])}", flush=True)
    done = subprocess.run(command, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode:
        lines = done.stderr.strip().splitlines()
        errors = [line for line in lines if line.startswith("error:")]
        reason = (errors or lines or ["no message"])[-1].removeprefix("error:").strip()
        raise common.ExperimentError(f"{module} failed with exit status {done.returncode}: "
                                     f"{reason}")
    sys.stderr.write(done.stderr)
    path = os.path.join(output_dir, "results.json")
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError) as error:
        raise common.ExperimentError(f"{module} wrote no readable {path} ({error}).") from None


def games_section() -> list[list]:
    """Random-play Hanabi on both backends and the two-step matrix game's payoff facts."""
    rows = []
    for preset in ("very_small", "full"):
        for backend in hanabi.BACKENDS:
            start = time.perf_counter()
            scores = hanabi.play_random(preset, num_games=200, seed=0, backend=backend)
            rows.append([f"hanabi {preset}, random legal moves ({backend})", "mean score",
                         float(scores.mean()), f"{time.perf_counter() - start:.1f}s"])
    game = tiny_hanabi.TinyHanabi()
    always_middle = float(np.einsum("ab,ab->", np.outer(game.chance_probs, game.chance_probs),
                                    game.payoffs[:, :, 1, 1]))
    rows.append(["two-step matrix game (tiny_hanabi)", "optimum", game.optimum, "-"])
    rows.append(["two-step matrix game (tiny_hanabi)", "always middle", always_middle, "-"])
    return rows


def pretrained_section(name: str = "full", num_games: int = PRETRAINED_GAMES) -> list[list]:
    """The pretrained agent `name` in greedy self-play through OpenSpiel, on seeded deals."""
    agent = agents.load_pretrained(name)
    start = time.perf_counter()
    game = hanabi.HanabiGame(agent.config.game, num_games, seed=0)
    scores = hanabi_evaluation.play_open_spiel(agent.config, agent.params, game, None,
                                               jax.random.PRNGKey(1), greedy=True).scores
    what = f"pretrained '{name}' agent, {num_games} games through OpenSpiel (greedy)"
    return [[what, "mean score", float(scores.mean()), f"{time.perf_counter() - start:.1f}s"],
            [what, "its header's score", agent.header["score"], "-"]]


def main(argv: Sequence[str]) -> None:
    del argv  # run_main refuses positional arguments
    demo = config_flags.build(DemoConfig, DEMO_FLAGS)
    output_dir = run_files.prepare_output_dir(demo.output_dir)
    rows = games_section()

    bad = _run_binary("experiments.bad_matrix_game", os.path.join(output_dir, "bad_matrix_game"),
                      BAD_MATRIX_FLAGS)
    for method, result in bad["results"].items():
        rows.append([f"BAD matrix game, {bad['num_seeds']} seeds: {method}", "mean final reward",
                     result["mean_final_reward"], f"{result['wall_time_s']:.1f}s"])

    sp = _run_binary("experiments.gn_shortest_path", os.path.join(output_dir, "shortest_path"),
                     SHORTEST_PATH_FLAGS)
    for split in ("train_range", "generalisation_range"):
        sizes = f"{sp[split]['min_nodes']}-{sp[split]['max_nodes']} nodes"
        rows.append([f"GN shortest path, {sizes}", "node accuracy / solved",
                     f"{sp[split]['node_accuracy']:.3f} / {sp[split]['solved']:.3f}",
                     f"{sp['seconds_this_process']:.0f}s"])

    rows += pretrained_section()
    print("\n" + common.format_table(rows, ["what", "figure", "value", "time"]))


if __name__ == "__main__":
    common.run_main(main)
