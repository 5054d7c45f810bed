"""BAD and IPPO self-play on Hanabi: train on the JAX Hanabi, evaluate through OpenSpiel.

Train (resumes from `<output_dir>/checkpoint.npz` when one is there):

    python -m experiments.bad_hanabi --method=bad --preset=very_small \\
        --num_env_steps=20000000 --output_dir=runs/bad_very_small

Writes `metrics.csv` (one row per logged chunk of updates), `results.json` (the final OpenSpiel
evaluation and training figures), `score.png`, `belief_cross_entropy.png` and the checkpoint.
A run restarted after a kill continues from its last checkpoint with the same numbers as an
uninterrupted run. With `--final_learning_rate_fraction` or `--final_entropy_fraction` below 1
the learning rate and entropy weight fall linearly over the run (or over `--anneal_env_steps`),
so a resumed run must be given the same `--num_env_steps` (the checkpoint refuses another).
`--greedy` makes the evaluation play every move's most likely action.

Evaluate a checkpoint through OpenSpiel (the agent settings are read from the checkpoint; the
game given by --preset/--players must be the one it was trained on):

    python -m experiments.bad_hanabi --preset=very_small \\
        --evaluate_checkpoint=runs/bad_very_small/checkpoint.npz --num_games=1000 [--greedy]

For a BAD agent, `--eval_likelihood_samples=K` makes either evaluation average its belief's
likelihoods over K public samples instead of the number it was trained with: a better calibrated
belief for the same network (see the README). On games of two players with two-card hands (small,
very_small), `--exact_belief` trains BAD with the exact joint public belief instead of BB, and
`--eval_exact_belief` evaluates any BAD agent with it.

The evaluation reports the mean score, its standard error, the fraction of perfect games, the
per-card belief cross-entropies and a calibration table of the agent's belief that each own card
is playable (`hanabi_evaluation.calibration_table`).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time

import jax
import numpy as np
from absl import flags

from bad import hanabi_evaluation, hanabi_learner
from bad.hanabi_agent import METHODS, AgentConfig
from experiments import common
from games.hanabi import HanabiGame
from games.hanabi_config import PRESETS, make_config

FLAGS = flags.FLAGS
flags.DEFINE_enum("method", "bad", METHODS, "bad: public belief and partial policies; ippo: "
                  "independent actor-critic on the players' own observations.")
flags.DEFINE_string("preset", "very_small", f"Hanabi preset: {', '.join(PRESETS)}.")
flags.DEFINE_integer("players", 0, "Number of players (2-5); 0 keeps the preset's.")
flags.DEFINE_integer("num_env_steps", 2_000_000, "Environment steps (moves, over all games).")
flags.DEFINE_integer("num_envs", 256, "Games played side by side.")
flags.DEFINE_integer("rollout_length", 32, "Moves per game between updates.")
flags.DEFINE_integer("num_epochs", 2, "PPO epochs per rollout.")
flags.DEFINE_integer("num_minibatches", 4, "PPO minibatches per epoch.")
flags.DEFINE_float("learning_rate", 5e-4, "Adam learning rate.")
flags.DEFINE_float("entropy_weight", 0.01, "Weight of the entropy bonus.")
flags.DEFINE_float("final_learning_rate_fraction", 1.0,
                   "The learning rate falls linearly to this fraction of --learning_rate over "
                   "the run (--num_env_steps); 1 keeps it constant.")
flags.DEFINE_float("final_entropy_fraction", 1.0,
                   "The entropy weight falls linearly to this fraction of --entropy_weight over "
                   "the run; 1 keeps it constant.")
flags.DEFINE_integer("anneal_env_steps", 0,
                     "Environment steps the annealing takes; 0: the whole run (--num_env_steps).")
flags.DEFINE_float("discount", 0.99, "Discount of the common payoff.")
flags.DEFINE_float("gae_lambda", 0.95, "Lambda of the generalised advantage estimates.")
flags.DEFINE_float("v2_alpha", 0.0, "BAD: the public belief is V2 = (1 - a) * BB + a * V1 "
                   "(the paper uses 0.01 or 0.1); 0 keeps BB.")
flags.DEFINE_float("cf_weight", 1.0, "BAD: weight of the counterfactual log-probability term.")
flags.DEFINE_integer("likelihood_samples", 1, "BAD: public hands sampled from the belief to fill "
                     "the other partner slots when estimating an action's likelihood (averaged).")
flags.DEFINE_bool("exact_belief", False, "BAD: track the exact joint public belief of both hands "
                  "instead of BB (2 players with 2-card hands, e.g. small and very_small).")
flags.DEFINE_list("hidden_sizes", ["256"], "Hidden layer sizes (the first is the rank-one layer).")
flags.DEFINE_integer("seed", 0, "Random seed (training and evaluation).")
flags.DEFINE_string("output_dir", None, "Where metrics, plots, results and checkpoints go.")
flags.DEFINE_integer("updates_per_log", 10, "Updates per compiled call and metrics row.")
flags.DEFINE_integer("checkpoint_every", 1_000_000,
                     "Environment steps between checkpoints (rounded up to logged chunks).")
flags.DEFINE_integer("eval_games", 1000, "Games played through OpenSpiel after training.")
flags.DEFINE_string("evaluate_checkpoint", None, "Evaluate this checkpoint instead of training.")
flags.DEFINE_bool("greedy", False, "Evaluation plays every move's most likely action instead of "
                  "sampling the policy (training always samples).")
flags.DEFINE_integer("num_games", 1000, "Games for --evaluate_checkpoint.")
flags.DEFINE_bool("eval_exact_belief", False, "BAD: evaluate with the exact joint belief whatever "
                  "belief the agent was trained with (2 players with 2-card hands).")
flags.DEFINE_integer("eval_likelihood_samples", 0, "BAD: public samples the evaluated belief's "
                     "likelihoods average over; 0 keeps the agent's training setting.")

EXPERIMENT = "bad_hanabi"


def game_config():
    spec = {"preset": FLAGS.preset}
    if FLAGS.players:
        spec["players"] = FLAGS.players
    return make_config(spec)


def hidden_sizes() -> tuple[int, ...]:
    try:
        sizes = tuple(int(size) for size in FLAGS.hidden_sizes)
    except ValueError:
        raise common.ExperimentError(
            f"--hidden_sizes must be a comma-separated list of ints, got {FLAGS.hidden_sizes}.")
    if not sizes or min(sizes) < 1:
        raise common.ExperimentError(f"--hidden_sizes must be positive ints, got {sizes}.")
    return sizes


def train_config() -> hanabi_learner.TrainConfig:
    """The training configuration from the flags, checked."""
    common.check_positive(num_env_steps=FLAGS.num_env_steps, num_envs=FLAGS.num_envs,
                          rollout_length=FLAGS.rollout_length, num_epochs=FLAGS.num_epochs,
                          num_minibatches=FLAGS.num_minibatches,
                          learning_rate=FLAGS.learning_rate, updates_per_log=FLAGS.updates_per_log)
    if FLAGS.entropy_weight < 0 or FLAGS.cf_weight < 0:
        raise common.ExperimentError("--entropy_weight and --cf_weight must be at least 0.")
    common.check_fraction(final_learning_rate_fraction=FLAGS.final_learning_rate_fraction,
                          final_entropy_fraction=FLAGS.final_entropy_fraction,
                          discount=FLAGS.discount, gae_lambda=FLAGS.gae_lambda,
                          v2_alpha=FLAGS.v2_alpha)
    if FLAGS.checkpoint_every < 0 or FLAGS.eval_games < 0 or FLAGS.anneal_env_steps < 0:
        raise common.ExperimentError(
            "--checkpoint_every, --eval_games and --anneal_env_steps must be at least 0.")
    if FLAGS.num_envs % jax.device_count():
        raise common.ExperimentError(f"--num_envs must be a multiple of the {jax.device_count()} "
                                     "devices it is split over.")
    common.check_positive(likelihood_samples=FLAGS.likelihood_samples)
    if FLAGS.method != "bad" and (FLAGS.v2_alpha or FLAGS.likelihood_samples != 1
                                  or FLAGS.exact_belief):
        raise common.ExperimentError("--v2_alpha, --likelihood_samples and --exact_belief apply "
                                     "to --method=bad only.")
    agent = AgentConfig(game_config(), method=FLAGS.method, hidden_sizes=hidden_sizes(),
                        cf_weight=FLAGS.cf_weight, likelihood_samples=FLAGS.likelihood_samples,
                        v2_alpha=FLAGS.v2_alpha, exact_belief=FLAGS.exact_belief)
    evaluated_agent(agent)  # refuses a bad --eval_likelihood_samples before training starts
    anneals = FLAGS.final_learning_rate_fraction < 1 or FLAGS.final_entropy_fraction < 1
    steps_per_chunk = FLAGS.updates_per_log * FLAGS.num_envs * FLAGS.rollout_length
    anneal_steps = FLAGS.anneal_env_steps or FLAGS.num_env_steps
    anneal_updates = -(-anneal_steps // steps_per_chunk) * FLAGS.updates_per_log
    return hanabi_learner.TrainConfig(
        agent=agent, num_envs=FLAGS.num_envs, rollout_length=FLAGS.rollout_length,
        num_epochs=FLAGS.num_epochs, num_minibatches=FLAGS.num_minibatches,
        learning_rate=FLAGS.learning_rate, entropy_weight=FLAGS.entropy_weight,
        discount=FLAGS.discount, gae_lambda=FLAGS.gae_lambda,
        anneal_updates=anneal_updates if anneals else 0,
        final_learning_rate_fraction=FLAGS.final_learning_rate_fraction,
        final_entropy_fraction=FLAGS.final_entropy_fraction)


# The TrainConfig fields a checkpoint records besides the agent's (its numbers depend on them).
TRAIN_FIELDS = ("num_envs", "rollout_length", "num_epochs", "num_minibatches", "learning_rate",
                "entropy_weight", "discount", "gae_lambda", "anneal_updates",
                "final_learning_rate_fraction", "final_entropy_fraction")


def checkpoint_config(config: hanabi_learner.TrainConfig) -> dict:
    """Everything a checkpoint's numbers depend on (not the run length)."""
    agent = config.agent
    return {
        "experiment": EXPERIMENT, "game": agent.game.open_spiel_params(), "method": agent.method,
        "hidden_sizes": list(agent.hidden_sizes), "cf_weight": agent.cf_weight,
        "likelihood_floor": agent.likelihood_floor,
        "likelihood_samples": agent.likelihood_samples, "v2_alpha": agent.v2_alpha,
        "exact_belief": agent.exact_belief,
        **{name: getattr(config, name) for name in TRAIN_FIELDS},
        "seed": FLAGS.seed, "updates_per_log": FLAGS.updates_per_log,
    }


def config_of_checkpoint(path: str, saved: dict, game) -> hanabi_learner.TrainConfig:
    """The training configuration a checkpoint's `checkpoint_config` describes."""
    missing = [name for name in ("method", "hidden_sizes", "cf_weight", "likelihood_floor",
                                 "likelihood_samples", "v2_alpha", *TRAIN_FIELDS)
               if name not in saved]
    if missing:
        raise common.ExperimentError(
            f"checkpoint {path} lacks the setting '{missing[0]}' (written by an older version?).")
    agent = AgentConfig(game, method=saved["method"], hidden_sizes=tuple(saved["hidden_sizes"]),
                        cf_weight=saved["cf_weight"], likelihood_floor=saved["likelihood_floor"],
                        likelihood_samples=saved["likelihood_samples"], v2_alpha=saved["v2_alpha"],
                        exact_belief=saved.get("exact_belief", False))  # older: always BB
    return hanabi_learner.TrainConfig(agent=agent,
                                      **{name: saved[name] for name in TRAIN_FIELDS})


def evaluated_agent(agent: AgentConfig) -> AgentConfig:
    """The agent as evaluated: with --eval_likelihood_samples public samples or the exact belief
    (--eval_exact_belief) when given."""
    samples = FLAGS.eval_likelihood_samples
    if samples < 0:
        raise common.ExperimentError(
            f"--eval_likelihood_samples must be at least 0, got {samples}.")
    if not samples and not FLAGS.eval_exact_belief:
        return agent
    if not agent.is_bad:
        raise common.ExperimentError(
            "--eval_likelihood_samples and --eval_exact_belief apply to BAD agents only.")
    # AgentConfig refuses an exact belief with V2 or with more than one sample.
    if FLAGS.eval_exact_belief:
        if samples:
            raise common.ExperimentError("--eval_exact_belief replaces the sampled likelihoods; "
                                         "it takes no --eval_likelihood_samples.")
        return dataclasses.replace(agent, likelihood_samples=1, exact_belief=True)
    return dataclasses.replace(agent, likelihood_samples=samples)


def template_state(config: hanabi_learner.TrainConfig) -> hanabi_learner.TrainState:
    return hanabi_learner.init_train_state(config, jax.random.PRNGKey(FLAGS.seed))


def evaluate(config: AgentConfig, params, num_games: int, seed: int) -> dict:
    """Plays `num_games` games through OpenSpiel (sampled, or greedy with --greedy); returns
    `hanabi_evaluation.summarise`, the policy played and the belief's calibration table."""
    game = HanabiGame(config.game, num_games, seed)
    evaluation = hanabi_evaluation.play_open_spiel(config, params, game, None,
                                                   jax.random.PRNGKey(seed + 1), FLAGS.greedy)
    return {**hanabi_evaluation.summarise(config, evaluation),
            "policy": "greedy" if FLAGS.greedy else "sampled",
            **({"likelihood_samples": config.likelihood_samples} if config.is_bad else {}),
            "playable_calibration": hanabi_evaluation.calibration_table(evaluation)}


def print_evaluation(summary: dict, title: str) -> None:
    """The evaluation's figures, then its calibration table."""
    figures = [[k, v] for k, v in summary.items() if k != "playable_calibration"]
    print(common.format_table(figures, [title, "value"]))
    print(common.format_table([list(row.values()) for row in summary["playable_calibration"]],
                              ["P(playable) from", "to", "own cards", "mean predicted",
                               "fraction playable"]))


def plot(path: str, rows: list[dict], key: str, label: str, title: str) -> None:
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot([row["env_steps"] for row in rows], [row[key] for row in rows])
    axes.set_xlabel("environment steps")
    axes.set_ylabel(label)
    axes.set_title(title)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    tmp = path + ".tmp.png"
    figure.savefig(tmp, dpi=100)
    plt.close(figure)
    os.replace(tmp, path)


def read_checkpoint_config(path: str) -> dict:
    """The settings stored in one of our checkpoints (to rebuild its agent for evaluation)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            return json.loads(str(data["config"]))
    except FileNotFoundError:
        raise common.ExperimentError(f"checkpoint {path} does not exist.") from None
    except Exception:  # truncated zips, missing entries, bad JSON: all "not ours".
        raise common.ExperimentError(
            f"checkpoint {path} is not a readable checkpoint of this experiment.") from None


def evaluate_checkpoint() -> None:
    """--evaluate_checkpoint: load, play --num_games games through OpenSpiel, report."""
    path = FLAGS.evaluate_checkpoint
    common.check_positive(num_games=FLAGS.num_games)
    if FLAGS["likelihood_samples"].present:
        raise common.ExperimentError("--likelihood_samples is a training setting; evaluate a "
                                     "checkpoint's belief with --eval_likelihood_samples.")
    game = game_config()
    saved = read_checkpoint_config(path)
    if saved.get("experiment") != EXPERIMENT:
        raise common.ExperimentError(f"checkpoint {path} was not written by {EXPERIMENT}.")
    if saved.get("game") != game.open_spiel_params():
        raise common.ExperimentError(
            f"checkpoint {path} was trained on {saved.get('game')}, but --preset/--players give "
            f"{game.open_spiel_params()}.")
    output_dir = common.prepare_output_dir(FLAGS.output_dir) if FLAGS.output_dir else None
    config = config_of_checkpoint(path, saved, game)
    agent = evaluated_agent(config.agent)
    template = hanabi_learner.init_train_state(config, jax.random.PRNGKey(saved["seed"]))
    state = common.load_checkpoint(path, template, saved)
    start = time.perf_counter()
    summary = evaluate(agent, state.params, FLAGS.num_games, FLAGS.seed)
    summary.update(checkpoint=os.path.abspath(path), method=agent.method,
                   env_steps=int(state.update) * config.steps_per_update,
                   wall_seconds=time.perf_counter() - start)
    print_evaluation(summary, "figure")
    if output_dir:
        common.write_json(os.path.join(output_dir, "evaluation.json"), summary)


def train() -> None:
    """Training, resumed from the output directory's checkpoint when there is one."""
    if FLAGS.output_dir is None:
        raise common.ExperimentError("--output_dir is required for training.")
    config = train_config()
    saved_config = checkpoint_config(config)
    output_dir = common.prepare_output_dir(FLAGS.output_dir)
    checkpoint_path = os.path.join(output_dir, common.CHECKPOINT_NAME)
    metrics_path = os.path.join(output_dir, "metrics.csv")
    state = template_state(config)
    rows: list[dict] = []
    if os.path.exists(checkpoint_path):
        state = common.load_checkpoint(checkpoint_path, state, saved_config)
        done_steps = int(state.update) * config.steps_per_update
        if os.path.exists(metrics_path):
            rows = [{**row, "env_steps": int(row["env_steps"]), "updates": int(row["updates"])}
                    for row in common.read_csv(metrics_path) if row["env_steps"] <= done_steps]
        print(f"resuming from {checkpoint_path} at {done_steps} environment steps", flush=True)
    state = hanabi_learner.shard_over_devices(state)

    steps_per_chunk = FLAGS.updates_per_log * config.steps_per_update
    total_chunks = -(-FLAGS.num_env_steps // steps_per_chunk)
    chunks_per_checkpoint = max(1, -(-FLAGS.checkpoint_every // steps_per_chunk))
    chunk = int(state.update) // FLAGS.updates_per_log
    progress = common.Progress(total_chunks * steps_per_chunk, start=chunk * steps_per_chunk)
    start = time.perf_counter()
    while chunk < total_chunks:
        state, metrics = hanabi_learner.train_updates(config, state, FLAGS.updates_per_log)
        metrics = jax.device_get(metrics)
        chunk += 1
        finished = float(metrics["games_finished"].sum())
        row = {
            "env_steps": chunk * steps_per_chunk,
            "updates": chunk * FLAGS.updates_per_log,
            "mean_score": float(np.sum(metrics["mean_score"] * metrics["games_finished"])
                                / max(finished, 1.0)),
            "games_finished": finished,
            "belief_cross_entropy": float(metrics["belief_cross_entropy"].mean()),
            "entropy": float(metrics["entropy"].mean()),
            "policy_loss": float(metrics["policy_loss"].mean()),
            "value_loss": float(metrics["value_loss"].mean()),
        }
        rows.append(row)
        common.write_csv(metrics_path, rows)
        if chunk % chunks_per_checkpoint == 0 or chunk == total_chunks:
            common.save_checkpoint(checkpoint_path, jax.device_get(state), saved_config)
        progress.update(row["env_steps"], {"mean_score": row["mean_score"]},
                        force=chunk == total_chunks)
    train_seconds = time.perf_counter() - start

    if not rows:
        raise common.ExperimentError(f"{output_dir} holds a checkpoint but no metrics.csv rows.")
    agent = config.agent
    plot(os.path.join(output_dir, "score.png"), rows, "mean_score", "mean score (training games)",
         f"{agent.method} on Hanabi {FLAGS.preset}")
    plot(os.path.join(output_dir, "belief_cross_entropy.png"), rows, "belief_cross_entropy",
         f"per-card cross-entropy of the {agent.belief_name.upper()} belief",
         f"{agent.method} on Hanabi {FLAGS.preset}")
    results = {
        "method": agent.method, "preset": FLAGS.preset, "game": agent.game.open_spiel_params(),
        "env_steps": rows[-1]["env_steps"], "train_seconds_this_run": train_seconds,
        "train_mean_score": rows[-1]["mean_score"],
        "train_belief_cross_entropy": rows[-1]["belief_cross_entropy"],
    }
    if FLAGS.eval_games:
        results["open_spiel_evaluation"] = evaluate(evaluated_agent(agent),
                                                    jax.device_get(state.params),
                                                    FLAGS.eval_games, FLAGS.seed)
        print_evaluation(results["open_spiel_evaluation"], "OpenSpiel evaluation")
    common.write_json(os.path.join(output_dir, "results.json"), results)


def main(argv) -> None:
    if len(argv) > 1:
        raise common.ExperimentError(f"unexpected arguments: {' '.join(argv[1:])}.")
    if FLAGS.evaluate_checkpoint:
        evaluate_checkpoint()
    else:
        train()


if __name__ == "__main__":
    common.run_main(main)
