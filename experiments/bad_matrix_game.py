r"""BAD on the two-step matrix game (OpenSpiel `tiny_hanabi`), many seeds in one compiled run.

Trains BAD with counterfactual gradients (`bad_cf`), BAD without them (`bad`) and independent
policy gradient (`pg`), each for `--num_seeds` seeds in one jitted, vmapped function, scores
every final policy exactly, and writes to `--output_dir`:

* `results.json`: per method, the mean final exact reward, its standard error, the fractions of
  seeds at the optimum and within 1 of it (at 10 and at 9 or more for the default game), and the
  wall time (compilation included), plus the full configuration;
* `metrics.csv`: one row per evaluation: mean and standard error of the exact reward per method;
* `learning_curves.png` (mean exact reward with shaded standard error) and
  `final_rewards.png` (histogram of the seeds' final rewards).

The defaults are the published recipe (batch 32, Adam 1e-3, 32 hidden units, no entropy bonus,
own-input baselines) at 20,000 updates and 1,000 seeds. Changes from the recipe, each off by
default: `--learning_rate_end`, `--entropy_cost`/`--entropy_cost_end`, `--baseline=central`,
`--policy_init_scale`.

  python -m experiments.bad_matrix_game --output_dir=runs/bad_matrix_game
  python -m experiments.bad_matrix_game --methods=bad_cf --num_seeds=100 --num_updates=2000
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence

import jax
import numpy as np

from bad import matrix_game
from experiments import common, config_flags, plots, run_files
from games import tiny_hanabi

# Every setting of `matrix_game.Config` but the method: flags made from the dataclass.
CONFIG_FLAGS = ("batch_size", "num_updates", "learning_rate", "hidden_size", "eval_every",
                "learning_rate_end", "entropy_cost", "entropy_cost_end", "baseline",
                "policy_init_scale", "unroll")
config_flags.define(matrix_game.Config, CONFIG_FLAGS,
                    choices={"baseline": matrix_game.BASELINES})


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """The run's own settings: which methods, how many seeds, the game and the files.

    Attributes:
      methods: Methods to train, any of bad_cf, bad, pg.
      num_seeds: Independent training runs per method.
      seed: Random seed; seed i of a method uses key fold_in(seed, i).
      num_players: tiny_hanabi num_players (OpenSpiel default: 2).
      num_chance: tiny_hanabi num_chance, cards per player (default 2).
      num_actions: tiny_hanabi num_actions (default 3).
      payoff: tiny_hanabi payoff, ';'-separated, row-major over [cards] * players + [actions] *
        players (default: the two-step game).
      output_dir: Where results and plots go.
      threefry_partitionable: JAX's random-bit layout. The non-partitionable one is about 1.5x
        faster for the many small draws here on one CPU device; the numbers depend on this
        choice.
    """

    methods: tuple[str, ...] = matrix_game.METHODS
    num_seeds: int = 1000
    seed: int = 0
    num_players: int | None = None
    num_chance: int | None = None
    num_actions: int | None = None
    payoff: str | None = None
    output_dir: str = "runs/bad_matrix_game"
    threefry_partitionable: bool = False

    def __post_init__(self):
        if not self.num_seeds > 0:
            raise ValueError(f"num_seeds must be positive, got {self.num_seeds}.")
        if not 0 <= self.seed <= common.SEED_MAX:
            raise ValueError(f"seed must be in [0, {common.SEED_MAX}], got {self.seed}.")
        unknown = [m for m in self.methods if m not in matrix_game.METHODS]
        if unknown or not self.methods:
            raise ValueError(f"methods must be a non-empty list of "
                             f"{', '.join(matrix_game.METHODS)}; got {unknown or 'none'}.")
        for index, method in enumerate(self.methods):
            if method in self.methods[:index]:
                raise ValueError(f"methods lists {method} twice; give each entry once.")

    @property
    def game_params(self) -> dict[str, int | str]:
        """The tiny_hanabi parameters given (OpenSpiel's defaults for the others)."""
        given = {"num_players": self.num_players, "num_chance": self.num_chance,
                 "num_actions": self.num_actions, "payoff": self.payoff}
        return {name: value for name, value in given.items() if value is not None}


RUN_FLAGS = tuple(field.name for field in dataclasses.fields(RunConfig))
config_flags.define(RunConfig, RUN_FLAGS)

TOLERANCE = 0.05  # A seed is "at" a value when its exact final reward is within this of it.


def configs_from_flags() -> tuple[RunConfig, list[matrix_game.Config]]:
    """The run's settings and one `Config` per requested method; raises `ValueError` on bad
    flags (each dataclass checks its own)."""
    run = config_flags.build(RunConfig, RUN_FLAGS)
    return run, [config_flags.build(matrix_game.Config, CONFIG_FLAGS, method=method)
                 for method in run.methods]


def optimum(game: tiny_hanabi.TinyHanabi) -> float:
    """The game's optimum (brute force for 2 players; the largest payoff otherwise)."""
    return game.optimum if game.num_players == 2 else float(game.payoffs.max())


def train_method(game: matrix_game.Game, config: matrix_game.Config, num_seeds: int,
                 seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Exact rewards float[seeds, evaluations] and final rewards of all seeds, and wall time."""
    start = time.perf_counter()
    keys = jax.vmap(lambda i: jax.random.fold_in(jax.random.key(seed), i))(np.arange(num_seeds))
    output = matrix_game.train_seeds(keys, game, config)
    curves = np.asarray(jax.block_until_ready(output.exact_reward))
    return curves, curves[:, -1], time.perf_counter() - start


def summary(final: np.ndarray, best: float, seconds: float) -> dict[str, float]:
    """The headline figures of one method."""
    return {"mean_final_reward": float(final.mean()),
            "sem_final_reward": float(final.std(ddof=1) / np.sqrt(len(final)))
            if len(final) > 1 else 0.0,
            "fraction_at_optimum": float(np.mean(final >= best - TOLERANCE)),
            "fraction_within_1_of_optimum": float(np.mean(final >= best - 1 - TOLERANCE)),
            "wall_time_s": seconds}


def metrics_rows(curves: dict[str, np.ndarray], eval_every: int) -> list[dict[str, float]]:
    """One row per evaluation: mean and standard error of the exact reward per method."""
    rows = []
    for i in range(next(iter(curves.values())).shape[1]):
        row: dict[str, float] = {"update": i * eval_every}
        for method, curve in curves.items():
            row[f"{method}_mean"] = float(curve[:, i].mean())
            row[f"{method}_sem"] = float(curve[:, i].std(ddof=1) / np.sqrt(len(curve))
                                         if len(curve) > 1 else 0.0)
        rows.append(row)
    return rows


def plot(curves: dict[str, np.ndarray], eval_every: int, best: float, output_dir: str) -> None:
    """Writes learning_curves.png (mean +- s.e.m.) and final_rewards.png (histograms)."""
    figure, axes = plots.new_figure()
    for method, curve in curves.items():
        updates = np.arange(curve.shape[1]) * eval_every
        mean = curve.mean(axis=0)
        sem = curve.std(axis=0, ddof=1) / np.sqrt(len(curve)) if len(curve) > 1 else 0 * mean
        axes[0, 0].plot(updates, mean, label=method)
        axes[0, 0].fill_between(updates, mean - sem, mean + sem, alpha=0.3)
    axes[0, 0].axhline(best, color="gray", linestyle=":", label="optimum")
    axes[0, 0].set(xlabel="update", ylabel="exact expected reward",
                   title=f"tiny_hanabi, {len(next(iter(curves.values())))} seeds "
                         "(mean ± s.e.m.)")
    axes[0, 0].legend(loc="lower right")
    plots.save_figure(figure, os.path.join(output_dir, "learning_curves.png"), dpi=120)

    figure, axes = plots.new_figure()
    finals = [curve[:, -1] for curve in curves.values()]
    axes[0, 0].hist(finals, bins=40, label=list(curves), histtype="step", linewidth=1.5)
    axes[0, 0].set(xlabel="final exact reward", ylabel="seeds", title="final rewards per seed")
    axes[0, 0].legend(loc="upper left")
    plots.save_figure(figure, os.path.join(output_dir, "final_rewards.png"), dpi=120)


def main(argv: Sequence[str]) -> None:
    del argv  # run_main refuses positional arguments
    run, configs = configs_from_flags()
    jax.config.update("jax_threefry_partitionable", run.threefry_partitionable)
    game = tiny_hanabi.TinyHanabi(run.game_params)
    arrays = matrix_game.game_arrays(game)
    for config in configs:
        matrix_game.enumeration(arrays, config)  # Fails early when the game is too big.
    output_dir = run_files.prepare_output_dir(run.output_dir)
    best = optimum(game)
    print(f"{game}: optimum {best:g}; {run.num_seeds} seeds x {configs[0].num_updates} updates "
          f"x batch {configs[0].batch_size} per method", flush=True)

    start = time.perf_counter()
    curves, results = {}, {}
    for config in configs:
        curve, final, seconds = train_method(arrays, config, run.num_seeds, run.seed)
        curves[config.method] = curve
        results[config.method] = summary(final, best, seconds)
        print(f"{config.method}: mean final reward {final.mean():.3f} in {seconds:.1f}s",
              flush=True)
    total = time.perf_counter() - start

    run_files.write_json(os.path.join(output_dir, "results.json"), {
        "results": results, "total_wall_time_s": total, "optimum": best,
        "tolerance": TOLERANCE, "game": game.params, "num_seeds": run.num_seeds,
        "seed": run.seed, "config": dataclasses.asdict(configs[0]) | {"method": list(run.methods)},
        "threefry_partitionable": run.threefry_partitionable})
    run_files.write_csv(os.path.join(output_dir, run_files.METRICS_NAME),
                     metrics_rows(curves, configs[0].eval_every))
    plot(curves, configs[0].eval_every, best, output_dir)
    header = ["method", "mean", "s.e.m.", f"at {best:g}", f">= {best - 1:g}", "wall s"]
    print(common.format_table(
        [[m, r["mean_final_reward"], r["sem_final_reward"], r["fraction_at_optimum"],
          r["fraction_within_1_of_optimum"], r["wall_time_s"]] for m, r in results.items()],
        header))
    print(f"total wall time {total:.1f}s; wrote {output_dir}")


if __name__ == "__main__":
    common.run_main(main)
