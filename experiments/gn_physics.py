r"""Mass-spring physics with a graph network: learn next-step velocities, roll out 50 steps.

    python -m experiments.gn_physics --output_dir=runs/gn_physics

Trains EncodeProcessDecode (one processing step) to predict every mass's next velocity from the
current state of chains of 5-8 masses, sampled at random times of 50-step simulated
trajectories. The network sees the state through `network_inputs`: no absolute positions (the
dynamics are translation invariant, and a longer chain reaches x values never seen in training),
but each spring's relative displacement and length, the velocities, the fixed flags, and spring
constants and gravity scaled to order one; it predicts the change of each velocity over the step,
which is added to the current velocity. The learning rate decays (cosine) from 1e-3 to 1e-5.
The training chains are drawn in one vectorised call (`physics.sample_batch`), so data
generation costs little next to the update. Evaluates on chains of 4 and 9 masses: the one-step
velocity MSE and the mean position error of a 50-step rollout fed with its own predictions,
next to a constant-velocity baseline. Writes results.json, metrics.csv, learning_curves.png and
rollouts.png; reruns resume from the checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np
from absl import flags

from experiments import (
    checkpoints,
    common,
    config_flags,
    distributed,
    gn_common,
    plots,
    run_files,
)
from graphnets import blocks, utils
from graphnets.datasets import physics

gn_common.define_training_flags(num_iterations=100_000, batch_size_train=256, batch_size_test=100,
                                num_processing_steps=1, log_every=1000, num_eval_graphs=100,
                                output_dir="runs/gn_physics", final_learning_rate_fraction=0.01)
flags.adopt_module_key_flags(gn_common)

SMALLEST_CHAIN = 3  # two fixed ends and one free mass
# Positions span (masses - 1) rest lengths; this keeps them and their squares far inside float32.
MAX_REST_LENGTH = 1000.0

StepFn = Callable[[jraph.GraphsTuple], jraph.GraphsTuple]


@dataclasses.dataclass(frozen=True)
class PhysicsConfig:
    """Everything the demo's numbers depend on: the shared settings, chains and rollouts; the
    flags of the chains and rollouts are made from this dataclass, which checks them.

    Attributes:
      min_masses_train: Fewest masses of a training chain (ends included).
      max_masses_train: Most masses of a training chain.
      test_masses: Chain lengths of the evaluation.
      min_rest_length: Shortest spring rest length.
      max_rest_length: Longest spring rest length.
      rollout_steps: Length of the simulated and predicted trajectories.
    """

    training: gn_common.TrainingConfig
    min_masses_train: int = 5
    max_masses_train: int = 8
    test_masses: tuple[int, ...] = (4, 9)
    min_rest_length: float = 0.2
    max_rest_length: float = 1.0
    rollout_steps: int = 50

    def __post_init__(self):
        low, high = self.min_masses_train, self.max_masses_train
        if low < 1:
            raise ValueError(f"min_masses_train must be at least 1, got {low}.")
        if low > high:
            raise ValueError(f"min_masses_train ({low}) is above max_masses_train ({high}).")
        if low < SMALLEST_CHAIN:
            raise ValueError(f"min_masses_train must be at least {SMALLEST_CHAIN}, got {low}.")
        for name in ("min_rest_length", "rollout_steps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}.")
        if self.min_rest_length > self.max_rest_length:
            raise ValueError(f"min_rest_length ({self.min_rest_length}) is above "
                             f"max_rest_length ({self.max_rest_length}).")
        if not self.test_masses or min(self.test_masses) < SMALLEST_CHAIN:
            raise ValueError(f"test_masses must be at least {SMALLEST_CHAIN} each (and not "
                             f"empty), got {','.join(map(str, self.test_masses))}.")
        for index, masses in enumerate(self.test_masses):
            if masses in self.test_masses[:index]:
                raise ValueError(f"test_masses lists {masses} twice; give each entry once.")
        if self.max_rest_length > MAX_REST_LENGTH:
            raise ValueError(f"max_rest_length must be at most {MAX_REST_LENGTH:g}, got "
                             f"{self.max_rest_length}.")


PHYSICS_FLAGS = tuple(field.name for field in dataclasses.fields(PhysicsConfig)
                      if field.name != "training")
config_flags.define(PhysicsConfig, PHYSICS_FLAGS)


def config_from_flags() -> PhysicsConfig:
    """The checked flags."""
    return config_flags.build(PhysicsConfig, PHYSICS_FLAGS,
                              training=gn_common.training_config_from_flags())


def chains(rng: np.random.Generator, config: PhysicsConfig, batch_size: int,
           min_masses: int, max_masses: int) -> jraph.GraphsTuple:
    """A batch of perturbed chains (unpadded)."""
    return physics.sample_batch(rng, batch_size, min_masses, max_masses,
                                config.min_rest_length, config.max_rest_length)


def chain_budget(batch_size: int, max_masses: int) -> tuple[int, int]:
    """(nodes, fewest edges) of a padded batch: the largest possible size of the batch."""
    return batch_size * max_masses + 1, batch_size * 2 * (max_masses - 2) + 1


def padded_chains(rng: np.random.Generator, config: PhysicsConfig, batch_size: int,
                  min_masses: int, max_masses: int) -> jraph.GraphsTuple:
    """A batch of perturbed chains padded to the largest possible size of the batch."""
    return gn_common.pad_graphs([chains(rng, config, batch_size, min_masses, max_masses)],
                                *chain_budget(batch_size, max_masses))[0]


def states_at(states: jnp.ndarray, graph: jraph.GraphsTuple, times: jnp.ndarray) -> jnp.ndarray:
    """Each node's row of `states` [T, N, 5] at its graph's entry of `times`."""
    node_times = times[blocks.node_graph_index(graph)]
    return states[node_times, jnp.arange(states.shape[1])]


def free_node_mask(graph: jraph.GraphsTuple) -> jnp.ndarray:
    """Real masses that are not fixed."""
    return utils.node_mask(graph, gn_common.real_graphs(graph)) & (graph.nodes[:, 4] == 0)


def network_inputs(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """What the network sees of a state `graph` (features in `graphnets.datasets.physics`).

    nodes   [vx, vy, is_fixed]
    edges   [spring constant / 50, rest length, dx, dy, |d|], d = sender - receiver position
    globals gravity / 10
    """
    positions = graph.nodes[:, :2]
    offset = positions[graph.senders] - positions[graph.receivers]
    length = jnp.sqrt(jnp.sum(offset ** 2, axis=-1, keepdims=True) + 1e-12)
    return graph._replace(
        nodes=graph.nodes[:, 2:5],
        edges=jnp.concatenate([graph.edges[:, :1] / physics.SPRING_CONSTANT,
                               graph.edges[:, 1:2], offset, length], axis=-1),
        globals=graph.globals / abs(physics.GRAVITY))


def run(config: PhysicsConfig, output_dir: str, checkpoint_every: int) -> None:
    """Trains, evaluates and writes results, metrics and plots to `output_dir`."""
    training, steps = config.training, config.rollout_steps
    num_shards = jax.device_count()
    size = gn_common.shard_size(training, num_shards)
    output_dir = run_files.prepare_output_dir(output_dir, distributed.is_writer())
    recorded = gn_common.checkpoint_config("physics", config, num_shards)
    checkpoints.check_resumable(os.path.join(output_dir, checkpoints.CHECKPOINT_NAME), recorded)
    timer = gn_common.Timer()
    network = gn_common.make_network(training, None, 2, None)

    def predicted_velocity(params: Any, graph: jraph.GraphsTuple) -> jnp.ndarray:
        change = network.apply(params, network_inputs(graph))[-1].nodes
        return graph.nodes[:, 2:4] + change

    def batches_for_iteration(iteration: int, shards: Sequence[int],
                              num_shards: int) -> list[tuple[jraph.GraphsTuple, np.ndarray]]:
        """Each shard's chains and the step of its trajectory each chain is trained on."""
        samples, times = [], []
        for shard in shards:
            rng = gn_common.train_rng(training.seed, iteration, shard, num_shards)
            samples.append([chains(rng, config, size, config.min_masses_train,
                                   config.max_masses_train)])
            times.append(rng.integers(0, steps, size=size + gn_common.PADDING_GRAPHS)
                         .astype(np.int32))
        padded = gn_common.pad_shards(samples, *chain_budget(size, config.max_masses_train))
        return [(graph, shard_times) for (graph,), shard_times in zip(padded, times)]

    def loss_fn(params: Any, batch: tuple[jraph.GraphsTuple, jnp.ndarray]) -> jnp.ndarray:
        graph, times = batch
        states = physics.rollout(graph, steps)
        inputs = graph._replace(nodes=states_at(states, graph, times))
        targets = states_at(states, graph, times + 1)[:, 2:4]
        errors = jnp.sum((predicted_velocity(params, inputs) - targets) ** 2, axis=-1)
        return gn_common.masked_mean(errors,
                                     utils.node_mask(graph, gn_common.real_graphs(graph)))

    def model_step(params: Any) -> StepFn:
        return lambda graph: physics.advance(graph, predicted_velocity(params, graph))

    def constant_velocity_step(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
        return physics.advance(graph, graph.nodes[:, 2:4])

    @jax.jit
    def scores(params: Any, graph: jraph.GraphsTuple) -> dict[str, jnp.ndarray]:
        """Summed squared velocity errors and position errors (model and baseline), counts."""
        true = physics.rollout(graph, steps)
        one_step = jax.vmap(lambda nodes: predicted_velocity(params, graph._replace(nodes=nodes)))
        free = free_node_mask(graph)
        out = {"free_nodes": jnp.sum(free) * steps}
        for name, velocity, step_fn in (
                ("model", one_step(true[:-1]), model_step(params)),
                ("baseline", true[:-1, :, 2:4], constant_velocity_step)):
            squared = jnp.sum((velocity - true[1:, :, 2:4]) ** 2, axis=-1)
            out[f"{name}_velocity_se"] = jnp.sum(jnp.where(free, squared, 0.0))
            rolled = physics.rollout(graph, steps, step_fn)
            distance = jnp.linalg.norm(rolled[1:, :, :2] - true[1:, :, :2], axis=-1)
            out[f"{name}_position_error"] = jnp.sum(jnp.where(free, distance, 0.0))
        return out

    def eval_batches(masses: int, num_chains: int) -> list[jraph.GraphsTuple]:
        starts = range(0, num_chains, training.batch_size_test)
        return [padded_chains(gn_common.rng_for(training.seed, gn_common.EVAL_STREAM,
                                                1000 * masses + k), config,
                              min(training.batch_size_test, num_chains - start), masses, masses)
                for k, start in enumerate(starts)]

    def figures(params: Any, batches: list[jraph.GraphsTuple]) -> dict[str, float]:
        total = gn_common.sum_counts([scores(params, batch) for batch in batches])
        count = total.pop("free_nodes")
        out = {}
        for name in ("model", "baseline"):
            out[f"{name}_velocity_mse"] = total[f"{name}_velocity_se"] / count
            out[f"{name}_rollout_position_error"] = total[f"{name}_position_error"] / count
        out["rollout_error_ratio"] = (out["model_rollout_position_error"]
                                      / out["baseline_rollout_position_error"])
        return out

    sizes = config.test_masses
    monitor = {masses: eval_batches(masses, training.batch_size_test)[:1] for masses in sizes}

    def evaluate(params: Any) -> dict[str, float]:
        row = {}
        for masses, batches in monitor.items():
            result = figures(params, batches)
            row[f"velocity_mse_{masses}"] = result["model_velocity_mse"]
            row[f"rollout_error_{masses}"] = result["model_rollout_position_error"]
        return row

    # The parameters' shapes depend on the feature sizes only, the same in every batch.
    init_params = network.init(jax.random.PRNGKey(training.seed),
                               network_inputs(monitor[sizes[0]][0]))
    params, rows = gn_common.train(
        training=training, checkpoint_every=checkpoint_every, loss_fn=loss_fn,
        init_params=init_params, batches_for_iteration=batches_for_iteration,
        evaluate=evaluate,
        output_dir=output_dir, config=recorded,
        columns=[f"{kind}_{m}" for m in sizes for kind in ("velocity_mse", "rollout_error")])

    results = {f"{masses}_masses": figures(params, eval_batches(masses, training.num_eval_graphs))
               for masses in sizes}
    if not distributed.is_writer():
        return
    run_files.write_json(os.path.join(output_dir, "results.json"), {
        "demo": "physics", "iterations": training.num_iterations,
        "num_chains_per_size": training.num_eval_graphs, "rollout_steps": steps,
        **results, "seconds_this_process": round(timer.seconds(), 1), "config": recorded})
    gn_common.plot_metrics(rows, os.path.join(output_dir, "learning_curves.png"), "physics")
    examples = {masses: monitor[masses][0] for masses in sizes}
    plot_rollouts(os.path.join(output_dir, "rollouts.png"), {
        masses: (physics.rollout(graph, steps), physics.rollout(graph, steps, model_step(params)),
                 int(graph.n_node[0]))
        for masses, graph in examples.items()})
    print(common.format_table(
        [(f"{masses} masses", r["model_velocity_mse"], r["baseline_velocity_mse"],
          r["model_rollout_position_error"], r["baseline_rollout_position_error"],
          r["rollout_error_ratio"]) for masses, r in zip(sizes, results.values())],
        ["chain", "velocity MSE", "const-vel MSE", "rollout err", "const-vel err", "ratio"]))
    print(f"wrote {output_dir}/results.json, metrics.csv and plots", flush=True)


def plot_rollouts(path: str, rollouts: dict[int, tuple[jnp.ndarray, jnp.ndarray, int]]) -> None:
    """True (solid) and predicted (dashed) trajectories of the first chain of each size."""
    figure, axes = plots.new_figure(1, len(rollouts), size=(5.5 * len(rollouts), 4.5))
    for ax, (masses, (true_states, predicted_states, n)) in zip(axes[0], rollouts.items()):
        true, predicted = np.asarray(true_states)[:, :n], np.asarray(predicted_states)[:, :n]
        for node in range(n):
            line, = ax.plot(true[:, node, 0], true[:, node, 1], lw=1.2)
            ax.plot(predicted[:, node, 0], predicted[:, node, 1], "--", lw=1.2,
                    color=line.get_color())
        ax.plot(true[-1, :, 0], true[-1, :, 1], "k-o", ms=3, lw=0.8, label="true, final step")
        ax.plot(predicted[-1, :, 0], predicted[-1, :, 1], "k--s", ms=3, lw=0.8,
                label="predicted, final step")
        ax.set_title(f"{masses} masses: true (solid) vs predicted (dashed)", fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
        ax.legend(fontsize=7)
    plots.save_figure(figure, path)


def main(argv):
    del argv
    config = config_from_flags()
    output = gn_common.output_config_from_flags()
    distributed.join_from_flags()
    run(config, output.output_dir, output.checkpoint_every)


if __name__ == "__main__":
    common.run_main(main)
