"""BAD and IPPO self-play on Hanabi: train on the JAX Hanabi, evaluate through OpenSpiel.

Train (resumes from `<output_dir>/checkpoint.npz` when one is there):

    python -m experiments.bad_hanabi --method=bad --preset=very_small \\
        --num_env_steps=20000000 --output_dir=runs/bad_very_small

Writes `metrics.csv` (one row per logged chunk of updates), `results.json` (the final OpenSpiel
evaluation and training figures), `score.png`, `belief_cross_entropy.png`, the checkpoint and the
trained agent, `agent.npz` (`bad.hanabi.agents.load_agent`; playable in OpenSpiel and the HLE).
A run restarted after a kill continues from its last checkpoint with the same numbers as an
uninterrupted run on as many cores: XLA's CPU products split their sums by thread, so the same
seed pinned to one core (`taskset -c 0`) and run on two differ from the first update.
With `--final_learning_rate_fraction` or `--final_entropy_fraction` below 1 the learning rate
and entropy weight fall linearly over the run (or over `--anneal_env_steps`), so a resumed run
must be given the same `--num_env_steps` (the checkpoint refuses another).
Training runs in chunks of `--updates_per_log` updates of `--num_envs` x `--rollout_length`
moves; `--num_env_steps`, `--anneal_env_steps` and `--checkpoint_every` are rounded up to whole
chunks (the first two with a printed note when that changes them). Training runs in
`experiments.training_loop`: metrics.csv and `metrics_log.npz` are written before the checkpoint
that covers them, and a resume rebuilds metrics.csv from the log at the checkpoint's step. A run
whose losses turn non-finite stops with one line, keeping the last finite checkpoint. The agent's
and the training's flags are made from `AgentConfig` and `TrainConfig`, which check them.
The run's own flags (game, length, files, evaluation) are made from `RunConfig` the same way.
`--greedy` makes the evaluation play every move's most likely action.

Evaluate a checkpoint or an agent file through OpenSpiel (the game and the agent settings are
read from the file; --preset/--players, when given, must name the game it was trained on):

    python -m experiments.bad_hanabi \\
        --evaluate_checkpoint=runs/bad_very_small/checkpoint.npz --num_games=1000 [--greedy]
    python -m experiments.bad_hanabi --evaluate_checkpoint=runs/bad_very_small/agent.npz

For a BAD agent, `--eval_likelihood_samples=K` makes either evaluation average its belief's
likelihoods over K public samples instead of the number it was trained with: a better calibrated
belief for the same network (docs/RESULTS.md). On games of two players with two-card hands (small,
very_small), `--exact_belief` trains BAD with the exact joint public belief instead of BB, and
`--eval_exact_belief` evaluates any BAD agent with it.

The evaluation reports the mean score, its standard error, the fraction of perfect games, the
per-card belief cross-entropies and a calibration table of the agent's belief that each own card
is playable (`hanabi_evaluation.calibration_table`).
"""

from __future__ import annotations

import dataclasses
import os
import time
from typing import Any

import jax
import numpy as np
from absl import flags

from bad.hanabi import agent_files, agents
from bad.hanabi import evaluation as hanabi_evaluation
from bad.hanabi import learner as hanabi_learner
from bad.hanabi.agent import METHODS, AgentConfig
from experiments import (
    checkpoints,
    common,
    config_flags,
    distributed,
    plots,
    run_files,
    training_loop,
)
from games.hanabi import HanabiGame
from games.hanabi.config import PRESETS, HanabiConfig, preset_with_players
from infra.devices import to_host

FLAGS = flags.FLAGS
flags.adopt_module_key_flags(distributed)
# The agent's and the training's settings: flags made from their dataclasses (one home each).
AGENT_FLAGS = ("method", "hidden_sizes", "cf_weight", "likelihood_samples", "v2_alpha",
               "exact_belief")
TRAIN_FLAGS = ("num_envs", "rollout_length", "num_epochs", "num_minibatches", "learning_rate",
               "entropy_weight", "final_learning_rate_fraction", "final_entropy_fraction",
               "discount", "gae_lambda")
config_flags.define(AgentConfig, AGENT_FLAGS, choices={"method": METHODS})
config_flags.define(hanabi_learner.TrainConfig, TRAIN_FLAGS)
@dataclasses.dataclass(frozen=True)
class RunConfig:
    """One run of this binary: the game, the run's length and files, and the evaluation.

    Attributes:
      preset: Hanabi preset.
      players: Number of players (2-5); 0 keeps the preset's.
      num_env_steps: Environment steps (moves, over all games), rounded up to whole chunks of
        --updates_per_log updates (with a note).
      anneal_env_steps: Environment steps the annealing takes, rounded up to whole chunks; 0: the
        whole run (--num_env_steps).
      seed: Random seed (training and evaluation).
      output_dir: Where metrics, plots, results and checkpoints go.
      updates_per_log: Updates per compiled call and metrics row.
      checkpoint_every: Environment steps between checkpoints (rounded up to logged chunks).
      eval_games: Games played through OpenSpiel after training.
      evaluate_checkpoint: Evaluate this checkpoint or agent file (agent.npz) instead of training.
      greedy: Evaluation plays every move's most likely action instead of sampling the policy
        (training always samples).
      num_games: Games for --evaluate_checkpoint.
      eval_exact_belief: BAD: evaluate with the exact joint belief whatever belief the agent was
        trained with (2 players with 2-card hands).
      eval_likelihood_samples: BAD: public samples the evaluated belief's likelihoods average
        over; 0 keeps the agent's training setting.
    """

    preset: str = "very_small"
    players: int = 0
    num_env_steps: int = 2_000_000
    anneal_env_steps: int = 0
    seed: int = 0
    output_dir: str | None = None
    updates_per_log: int = 10
    checkpoint_every: int = 1_000_000
    eval_games: int = 1000
    evaluate_checkpoint: str | None = None
    greedy: bool = False
    num_games: int = 1000
    eval_exact_belief: bool = False
    eval_likelihood_samples: int = 0

    def __post_init__(self):
        for name in ("num_env_steps", "updates_per_log", "num_games"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}.")
        for name in ("checkpoint_every", "eval_games", "anneal_env_steps",
                     "eval_likelihood_samples"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"{name} must be at least 0, got {getattr(self, name)}.")
        if not 0 <= self.seed <= common.SEED_MAX:
            raise ValueError(f"seed must be in [0, {common.SEED_MAX}], got {self.seed}.")
        if self.eval_exact_belief and self.eval_likelihood_samples:
            raise ValueError("eval_exact_belief replaces the sampled likelihoods; it takes no "
                             "eval_likelihood_samples.")

    @property
    def game(self) -> HanabiConfig:
        """The game given by `preset` and `players`."""
        return preset_with_players(self.preset, self.players)


RUN_FLAGS = tuple(field.name for field in dataclasses.fields(RunConfig))
config_flags.define(RunConfig, RUN_FLAGS, choices={"preset": list(PRESETS)})


EXPERIMENT = "bad_hanabi"
AGENT_NAME = "agent.npz"  # the trained agent, written at the end of training
LOSS_COLUMNS = ("policy_loss", "value_loss", "entropy")  # non-finite: the run diverged
METRICS_COLUMNS = ("env_steps", "updates", "mean_score", "games_finished", "belief_cross_entropy",
                   "entropy", "policy_loss", "value_loss")  # metrics.csv, one row per chunk


def chunks_of(name: str, env_steps: int, chunk_steps: int) -> int:
    """Whole chunks covering `env_steps`, with a printed note when `--name` is rounded up."""
    chunks = -(-env_steps // chunk_steps)
    if chunks * chunk_steps != env_steps:
        print(f"note: --{name}={env_steps} is rounded up to {chunks * chunk_steps}, a whole "
              f"number of {chunk_steps}-step chunks (--updates_per_log x --num_envs x "
              "--rollout_length).", flush=True)
    return chunks


@dataclasses.dataclass(frozen=True)
class Chunks:
    """Training runs in chunks of `updates` updates: one compiled call and metrics row each."""

    updates: int
    steps: int  # environment steps per chunk
    total: int  # chunks in the run
    per_checkpoint: int


def train_config_from_flags(run: RunConfig) -> tuple[hanabi_learner.TrainConfig, Chunks]:
    """The training configuration and the run's chunks.

    The agent's, the training's and the run's settings are checked by their dataclasses.
    """
    agent = config_flags.build(AgentConfig, AGENT_FLAGS, game=run.game)
    # Refuses --eval_likelihood_samples or --eval_exact_belief for IPPO before training starts.
    evaluated_agent(agent, run.eval_likelihood_samples, run.eval_exact_belief)
    # Built once without annealing to check the flags before the chunks are counted.
    config = config_flags.build(hanabi_learner.TrainConfig, TRAIN_FLAGS, agent=agent)
    chunk_steps = run.updates_per_log * config.steps_per_update
    total = chunks_of("num_env_steps", run.num_env_steps, chunk_steps)
    anneals = config.final_learning_rate_fraction < 1 or config.final_entropy_fraction < 1
    anneal_chunks = (chunks_of("anneal_env_steps", run.anneal_env_steps, chunk_steps)
                     if run.anneal_env_steps else total)
    per_checkpoint = max(1, -(-run.checkpoint_every // chunk_steps))
    config = dataclasses.replace(
        config, anneal_updates=anneal_chunks * run.updates_per_log if anneals else 0)
    return config, Chunks(run.updates_per_log, chunk_steps, total, per_checkpoint)


def checkpoint_config(config: hanabi_learner.TrainConfig, seed: int,
                      updates_per_log: int) -> dict:
    """Everything a checkpoint's numbers depend on (not the run length); results.json too."""
    return {"format_version": checkpoints.FORMAT_VERSION, "experiment": EXPERIMENT,
            "train": dataclasses.asdict(config), "seed": seed, "updates_per_log": updates_per_log}


def config_of_checkpoint(path: str, saved: dict) -> tuple[hanabi_learner.TrainConfig, int]:
    """The training configuration and seed of a checkpoint."""
    if saved.get("experiment") != EXPERIMENT:
        raise common.ExperimentError(f"checkpoint {path} was not written by {EXPERIMENT}.")
    config = checkpoints.dataclass_from_dict(hanabi_learner.TrainConfig, saved.get("train"), path,
                                        "train.")
    seed = saved.get("seed")
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= common.SEED_MAX:
        raise common.ExperimentError(f"checkpoint {path} has seed={seed!r}, expected an int in "
                                     f"[0, {common.SEED_MAX}].")
    return config, seed


def evaluated_agent(agent: AgentConfig, samples: int, exact_belief: bool) -> AgentConfig:
    """The agent as evaluated: with `samples` public samples (--eval_likelihood_samples; 0 keeps
    the agent's) or the exact belief (--eval_exact_belief) when given."""
    if samples < 0:
        raise common.ExperimentError(
            f"--eval_likelihood_samples must be at least 0, got {samples}.")
    if not samples and not exact_belief:
        return agent
    if not agent.is_bad:
        raise common.ExperimentError(
            "--eval_likelihood_samples and --eval_exact_belief apply to BAD agents only.")
    # AgentConfig refuses an exact belief with V2 or with more than one sample.
    if exact_belief:
        if samples:
            raise common.ExperimentError("--eval_exact_belief replaces the sampled likelihoods; "
                                         "it takes no --eval_likelihood_samples.")
        return dataclasses.replace(agent, likelihood_samples=1, exact_belief=True)
    return dataclasses.replace(agent, likelihood_samples=samples)


def evaluate(config: AgentConfig, params, num_games: int, seed: int, greedy: bool) -> dict:
    """Plays `num_games` games through OpenSpiel (sampled, or greedy); returns
    `hanabi_evaluation.summarise`, the policy played and the belief's calibration table."""
    game = HanabiGame(config.game, num_games, seed)
    evaluation = hanabi_evaluation.play_open_spiel(config, params, game, None,
                                                   jax.random.PRNGKey(seed + 1), greedy)
    return {**hanabi_evaluation.summarise(config, evaluation),
            "policy": "greedy" if greedy else "sampled",
            **({"likelihood_samples": config.likelihood_samples} if config.is_bad else {}),
            "playable_calibration": hanabi_evaluation.calibration_table(evaluation)}


def print_evaluation(summary: dict, title: str) -> None:
    """The evaluation's figures, then its calibration table."""
    figures = [[k, v] for k, v in summary.items() if k != "playable_calibration"]
    print(common.format_table(figures, [title, "value"]))
    print(common.format_table([list(row.values()) for row in summary["playable_calibration"]],
                              ["P(playable) from", "to", "own cards", "mean predicted",
                               "fraction playable"]))


def is_agent_file(path: str) -> bool:
    """Whether `path` holds an agent file (`bad.hanabi.agents.save_agent`) rather than a checkpoint;
    `False` for anything unreadable, whose problem `checkpoints.read_checkpoint` names."""
    try:
        with np.load(path, allow_pickle=False) as stored:
            return agent_files.HEADER_ENTRY in stored.files
    except Exception:  # any unreadable file: read_checkpoint names its problem
        return False


def check_trained_game(path: str, trained: HanabiConfig, game: HanabiConfig | None) -> None:
    """Refuses a file trained on another game than the one `--preset/--players` name."""
    if game is not None and trained != game:
        raise common.ExperimentError(
            f"{path} was trained on {trained.open_spiel_params()}, but "
            f"--preset/--players give {game.open_spiel_params()}.")


def read_trained_agent(path: str, game: HanabiConfig | None) -> tuple[AgentConfig, Any, int]:
    """The agent config, parameters and training steps of a checkpoint or an agent file,
    refused before its parameters are read if it was trained on another game than `game`."""
    if is_agent_file(path):
        agent = agents.load_agent(path)
        check_trained_game(path, agent.config.game, game)
        return agent.config, agent.params, int(agent.header["training_steps"])
    checkpoint = checkpoints.read_checkpoint(path)
    config, seed = config_of_checkpoint(path, checkpoint.config)
    check_trained_game(path, config.agent.game, game)
    template = hanabi_learner.init_train_state(config, jax.random.PRNGKey(seed))
    state = checkpoints.restore(path, checkpoint, template)
    return config.agent, state.params, int(state.update) * config.steps_per_update


def evaluate_checkpoint(run: RunConfig) -> None:
    """--evaluate_checkpoint: load, play --num_games games through OpenSpiel, report."""
    path = run.evaluate_checkpoint
    assert path is not None  # main calls this for --evaluate_checkpoint only
    if FLAGS["likelihood_samples"].present:
        raise common.ExperimentError("--likelihood_samples is a training setting; evaluate a "
                                     "checkpoint's belief with --eval_likelihood_samples.")
    named = FLAGS["preset"].present or FLAGS["players"].present
    trained, params, env_steps = read_trained_agent(path, run.game if named else None)
    agent = evaluated_agent(trained, run.eval_likelihood_samples, run.eval_exact_belief)
    output_dir = run_files.prepare_output_dir(run.output_dir) if run.output_dir else None
    start = time.perf_counter()
    summary = evaluate(agent, params, run.num_games, run.seed, run.greedy)
    summary.update(checkpoint=os.path.abspath(path), method=agent.method, env_steps=env_steps,
                   wall_seconds=time.perf_counter() - start)
    print_evaluation(summary, "figure")
    if output_dir:
        run_files.write_json(os.path.join(output_dir, "evaluation.json"), summary)


def metrics_row(metrics: dict, chunk: int, chunks: Chunks) -> dict:
    """The metrics.csv row of one chunk from `train_updates`' per-update metrics."""
    finished = float(metrics["games_finished"].sum())
    return {
        "env_steps": chunk * chunks.steps,
        "updates": chunk * chunks.updates,
        "mean_score": float(np.sum(metrics["mean_score"] * metrics["games_finished"])
                            / max(finished, 1.0)),
        "games_finished": finished,
        "belief_cross_entropy": float(metrics["belief_cross_entropy"].mean()),
        "entropy": float(metrics["entropy"].mean()),
        "policy_loss": float(metrics["policy_loss"].mean()),
        "value_loss": float(metrics["value_loss"].mean()),
    }


def train(config: hanabi_learner.TrainConfig, chunks: Chunks, seed: int,
          output_dir: str) -> tuple[hanabi_learner.TrainState, list[dict], float]:
    """Training in `training_loop.train`, resumed from `output_dir`'s checkpoint when there is
    one; one loop step is a chunk of updates.

    Returns the final state, the metrics rows and the training seconds of this process.
    """

    def step(state: tuple[Any, Any], done: int) -> tuple[Any, Any]:
        return hanabi_learner.train_updates(config, state[0], chunks.updates)  # (state, metrics)

    def losses(state: tuple[Any, Any], row: training_loop.Row | None) -> dict[str, float]:
        assert row is not None  # every chunk is a logged step (`log_steps` below)
        return {name: row[name] for name in LOSS_COLUMNS}

    trainer = training_loop.Trainer(
        init=lambda: hanabi_learner.init_train_state(config, jax.random.PRNGKey(seed)),
        step=step,
        to_device=lambda state: (hanabi_learner.shard_over_devices(state), None),
        to_host=lambda state: to_host(state[0]),
        row=lambda state, done: metrics_row(to_host(state[1]), done, chunks),
        losses=losses,
        # The checkpoint holds the training state alone; the loop keeps the log beside it.
        checkpoint_tree=lambda state, done, log: state,
        from_checkpoint=lambda state: (state, int(state.update) // chunks.updates, None),
        num_steps=chunks.total, checkpoint_every=chunks.per_checkpoint,
        log_steps=range(1, chunks.total + 1), columns=METRICS_COLUMNS,
        int_columns={"env_steps", "updates"},
        describe=lambda done: f"{done * chunks.steps} environment steps",
        row_name=f"{chunks.steps}-step chunk", step_name="update",
        progress_columns=["mean_score"],
        progress_unit=chunks.steps, log_in_checkpoint=False)
    start = time.perf_counter()
    (state, _), rows = training_loop.train(
        trainer, output_dir, checkpoint_config(config, seed, chunks.updates))
    return state, rows, time.perf_counter() - start


def train_and_evaluate(run: RunConfig) -> None:
    """Training (resumed when the output directory has a checkpoint), plots, evaluation.

    Every process of a multi-process run trains and evaluates; only process 0 writes files.
    """
    if not run.output_dir:
        raise common.ExperimentError("--output_dir is required for training.")
    config, chunks = train_config_from_flags(run)
    distributed.join_from_flags()
    if config.num_envs % jax.device_count():
        raise common.ExperimentError(f"--num_envs must be a multiple of the {jax.device_count()} "
                                     "devices it is split over.")
    output_dir = run_files.prepare_output_dir(run.output_dir, distributed.is_writer())
    state, rows, train_seconds = train(config, chunks, run.seed, output_dir)
    params = to_host(state.params)
    agent = config.agent
    results = {
        "method": agent.method, "preset": run.preset, "game": agent.game.open_spiel_params(),
        "env_steps": rows[-1]["env_steps"], "train_seconds_this_run": train_seconds,
        "train_mean_score": rows[-1]["mean_score"],
        "train_belief_cross_entropy": rows[-1]["belief_cross_entropy"],
        "config": checkpoint_config(config, run.seed, chunks.updates),
    }
    if run.eval_games:
        evaluated = evaluated_agent(agent, run.eval_likelihood_samples, run.eval_exact_belief)
        results["open_spiel_evaluation"] = evaluate(evaluated, params, run.eval_games,
                                                    run.seed, run.greedy)
        print_evaluation(results["open_spiel_evaluation"], "OpenSpiel evaluation")
    if not distributed.is_writer():
        return
    title = f"{agent.method} on Hanabi {run.preset}"
    plots.plot_learning_curves(os.path.join(output_dir, "score.png"), rows, "env_steps",
                                ["mean_score"], f"{title}: mean score of the training games",
                                "environment steps")
    plots.plot_learning_curves(
        os.path.join(output_dir, "belief_cross_entropy.png"), rows, "env_steps",
        ["belief_cross_entropy"],
        f"{title}: per-card cross-entropy of the {agent.belief_name.upper()} belief",
        "environment steps")
    score = results.get("open_spiel_evaluation", {}).get("mean_score")
    agents.save_agent(os.path.join(output_dir, AGENT_NAME), agents.make_agent(
        agent, params, training_steps=int(rows[-1]["env_steps"]), score=score, seed=run.seed))
    run_files.write_json(os.path.join(output_dir, "results.json"), results)


def main(argv) -> None:
    del argv  # run_main refuses positional arguments
    run = config_flags.build(RunConfig, RUN_FLAGS)
    if run.evaluate_checkpoint:
        if distributed.cluster_from_flags():
            raise common.ExperimentError(
                "--evaluate_checkpoint runs in one process; drop --coordinator_address, "
                "--num_processes and --process_id.")
        evaluate_checkpoint(run)
    else:
        train_and_evaluate(run)


if __name__ == "__main__":
    common.run_main(main)
