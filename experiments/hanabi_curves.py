"""Learning curves of Hanabi training runs side by side: a table of scores at given steps, a plot.

    python -m experiments.hanabi_curves --runs=runs/bad_full_3p,runs/ippo_full_3p \\
        --labels="BAD 3p,IPPO 3p" --output_dir=runs/curves

Reads each run's `metrics.csv` (written by `experiments.bad_hanabi`, also while it trains). The
score at step S is the training score (the sampled policy's, over the games finished) averaged
over the logged chunks in the last `--window_millions` million steps up to S, each chunk weighted
by the games it finished; a run that has not reached S gets none. Prints the table as Markdown and
writes it to `curves.md`, the rows to `curves.csv`, and every run's curve to `curves.png`.

The runs that have finished (their `results.json` holds the final OpenSpiel evaluation) get a
second table, `evaluations.md`: the steps trained, the mean score and its standard error, the
perfect games, the per-card belief cross-entropies V0 / V1 / BB and the policy evaluated.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence

import numpy as np

from experiments import common, config_flags, plots, run_files
from infra.files import atomic_write


@dataclasses.dataclass(frozen=True)
class CurvesConfig:
    """The runs compared, the steps and window of the table, and where it goes.

    Attributes:
      runs: Run folders of experiments.bad_hanabi, comma-separated.
      labels: A label per run (default: the folders' names).
      at_millions: Steps, in millions, at which the table gives the training score.
      window_millions: Millions of steps up to each point over which its score is averaged.
      output_dir: Where the table and the plot go.
    """

    runs: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()
    at_millions: tuple[float, ...] = (5, 10, 25, 50, 100)
    window_millions: float = 1.0
    output_dir: str = "runs/hanabi_curves"

    def __post_init__(self):
        if not self.runs:
            raise ValueError("runs must name at least one run folder.")
        for index, run in enumerate(self.runs):
            if run in self.runs[:index]:
                raise ValueError(f"runs lists {run} twice; give each entry once.")
        if not min(self.at_millions, default=0) > 0:
            raise ValueError(f"at_millions must be positive, got "
                             f"{min(self.at_millions, default=0)}.")
        if not self.window_millions > 0:
            raise ValueError(f"window_millions must be positive, got {self.window_millions}.")


CURVES_FLAGS = tuple(field.name for field in dataclasses.fields(CurvesConfig))
config_flags.define(CurvesConfig, CURVES_FLAGS)

METRICS = "metrics.csv"
RESULTS = "results.json"


def read_curve(run_dir: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(env_steps, mean_score, games_finished) of the chunks logged in `run_dir/metrics.csv`."""
    path = os.path.join(run_dir, METRICS)
    if not os.path.isfile(path):
        raise common.ExperimentError(f"--runs: {run_dir} has no {METRICS}.")
    rows = run_files.read_csv(path)
    missing = {"env_steps", "mean_score", "games_finished"} - set(rows[0] if rows else {})
    if not rows or missing:
        raise common.ExperimentError(f"--runs: {path} has no rows with env_steps, mean_score "
                                     "and games_finished.")
    return tuple(np.array([row[key] for row in rows], np.float64)  # type: ignore[return-value]
                 for key in ("env_steps", "mean_score", "games_finished"))


def score_at(steps: np.ndarray, scores: np.ndarray, games: np.ndarray, at: float,
             window: float) -> float | None:
    """The games-weighted mean score of the chunks ending in (at - window, at]; None when the run
    has not reached `at` (or finished no game in the window)."""
    if steps.size == 0 or steps[-1] < at:
        return None
    inside = (steps > at - window) & (steps <= at)
    weight = games[inside].sum()
    return float((scores[inside] * games[inside]).sum() / weight) if weight > 0 else None


def curve_rows(labels: Sequence[str], curves: Sequence[tuple[np.ndarray, ...]],
               at_steps: Sequence[float], window: float) -> list[dict]:
    """One row per run: its label, the steps it reached and its score at each of `at_steps`."""
    rows = []
    for label, (steps, scores, games) in zip(labels, curves):
        row: dict = {"run": label, "steps_reached": int(steps[-1])}
        for at in at_steps:
            row[f"{at / 1e6:g}M"] = score_at(steps, scores, games, at, window)
        rows.append(row)
    return rows


def markdown_table(rows: Sequence[dict]) -> str:
    """`rows` as a Markdown table (scores to one decimal, `-` where a run has none)."""
    header = list(rows[0])
    cells = [[row["run"], f"{row['steps_reached'] / 1e6:.1f}M",
              *("-" if row[key] is None else f"{row[key]:.1f}" for key in header[2:])]
             for row in rows]
    lines = ["| run | steps reached | " + " | ".join(header[2:]) + " |",
             "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(line) + " |" for line in cells])


def read_evaluation(run_dir: str) -> dict | None:
    """The final OpenSpiel evaluation of `run_dir/results.json` with the steps trained, or None
    while the run has not finished."""
    path = os.path.join(run_dir, RESULTS)
    if not os.path.isfile(path):
        return None
    try:
        with open(path) as handle:
            results = json.load(handle)
        evaluation = results.get("open_spiel_evaluation")
        steps = int(results["env_steps"])
    except (OSError, ValueError, KeyError, AttributeError) as error:
        raise common.ExperimentError(f"--runs: {path} is not a run's results ({error}).") from None
    return None if evaluation is None else {**evaluation, "env_steps": steps}


def evaluation_table(labels: Sequence[str], evaluations: Sequence[dict | None]) -> str | None:
    """The finished runs' evaluations as a Markdown table; None when no run has finished."""
    lines = ["| run | steps | OpenSpiel score | perfect games | cross-entropy V0 / V1 / BB | "
             "policy | games |", "|---|---|---|---|---|---|---|"]
    for label, evaluation in zip(labels, evaluations):
        if evaluation is None:
            continue
        entropies = " / ".join("-" if f"cross_entropy_{name}" not in evaluation
                               else f"{evaluation[f'cross_entropy_{name}']:.3f}"
                               for name in ("v0", "v1", "bb"))
        lines.append(f"| {label} | {evaluation['env_steps'] / 1e6:.1f}M | "
                     f"{evaluation['mean_score']:.2f} +- {evaluation['score_stderr']:.2f} | "
                     f"{100 * evaluation['perfect_fraction']:.1f}% | {entropies} | "
                     f"{evaluation['policy']} | {evaluation['num_games']:,} |")
    return "\n".join(lines) if len(lines) > 2 else None


def plot_curves(path: str, labels: Sequence[str], curves: Sequence[tuple[np.ndarray, ...]],
                window: float) -> None:
    """Every run's training score against steps (each chunk's score smoothed over `window`)."""
    figure, axes = plots.new_figure(size=(7, 4.2))
    ax = axes[0, 0]
    for label, (steps, scores, games) in zip(labels, curves):
        smooth = [score_at(steps, scores, games, at, window) for at in steps]
        ax.plot(steps / 1e6, [np.nan if s is None else s for s in smooth], label=label)
    ax.set_xlabel("environment steps (millions)")
    ax.set_ylabel("training score")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    plots.save_figure(figure, path)


def main(argv: Sequence[str]) -> None:
    del argv  # run_main refuses positional arguments
    config = config_flags.build(CurvesConfig, CURVES_FLAGS)
    # The labels' count is checked against the runs here: by default they are the runs' names.
    labels = config.labels or [os.path.basename(os.path.normpath(run)) for run in config.runs]
    if len(labels) != len(config.runs):
        raise common.ExperimentError(f"--labels must give one label per run: {len(config.runs)} "
                                     f"runs, {len(labels)} labels.")
    at_steps = [value * 1e6 for value in config.at_millions]
    curves = [read_curve(run) for run in config.runs]
    evaluations = evaluation_table(labels, [read_evaluation(run) for run in config.runs])
    output_dir = run_files.prepare_output_dir(config.output_dir)
    window = config.window_millions * 1e6
    rows = curve_rows(labels, curves, at_steps, window)
    table = markdown_table(rows)
    atomic_write(os.path.join(output_dir, "curves.md"), lambda handle: handle.write(table + "\n"))
    run_files.write_csv(os.path.join(output_dir, "curves.csv"), rows)
    plot_curves(os.path.join(output_dir, "curves.png"), labels, curves, window)
    print(table)
    if evaluations is not None:
        atomic_write(os.path.join(output_dir, "evaluations.md"),
                     lambda handle: handle.write(evaluations + "\n"))
        print("\n" + evaluations)


if __name__ == "__main__":
    common.run_main(main)
