"""Shared parts of the graph network demos (`gn_shortest_path`, `gn_sort`, `gn_physics`).

* flags every demo has (`define_training_flags`), made from and checked by `TrainingConfig` and
  `OutputConfig` (`--output_dir`, `--checkpoint_every`); each demo's own config dataclass holds
  the `TrainingConfig` and every other flag that changes the data or the model (their flags made
  from it too), and `checkpoint_config` of it is what the checkpoint and `results.json` record,
* per-iteration randomness derived from (seed, iteration, shard), so a resumed run sees the
  same data,
* padding batches to a few fixed shapes (`graphnets.utils.pad_to`) so `jax.jit` compiles rarely,
* the EncodeProcessDecode network, the classification loss and metrics of the two labelling
  demos, and `train`: Adam in `experiments.training_loop` (progress lines, checkpoints holding
  the metrics log, exact resume),
* data parallelism (`graphnets.parallel`): each iteration's `--batch_size_train` graphs are split
  into one padded batch per device of every process (`experiments.distributed`); a shard's
  graphs come from (seed, iteration, shard) alone, so a run on two processes of one device each
  gives the numbers of one process with two devices. Only process 0 writes files,
* plots: learning curves and a graph drawn with true and predicted labels.

The two labelling demos' size flags, config and runner are in `experiments.gn_labelling`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, cast

import haiku as hk
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import optax
from absl import flags

from experiments import checkpoints, common, config_flags, distributed, plots, training_loop
from graphnets import blocks, models, parallel, utils

FLAGS = flags.FLAGS
flags.adopt_module_key_flags(distributed)

Batch = Any
Params = Any
TRAIN_STREAM, EVAL_STREAM = 0, 1
REDUCERS = {"sum": blocks.segment_sum, "mean": blocks.segment_mean, "max": blocks.segment_max}
PADDING_GRAPHS = 1  # `pad_graphs` appends one padding graph: the real ones are all but the last
MIN_PADDED_EDGES = 64


TRAINING_FLAGS = ("num_iterations", "batch_size_train", "batch_size_test", "num_processing_steps",
                  "latent_size", "num_layers", "aggregation", "learning_rate",
                  "final_learning_rate_fraction", "seed", "log_every", "num_eval_graphs")


@dataclasses.dataclass(frozen=True)
class TrainingConfig:
    """The shared settings that change a demo's numbers; their flags are made from this
    dataclass (`define_training_flags`, with each demo's defaults), which checks them.

    Attributes:
      num_iterations: Training iterations.
      batch_size_train: Graphs per training batch.
      batch_size_test: Graphs per evaluation batch.
      num_processing_steps: Message-passing steps of the EncodeProcessDecode core (None: the
        demo's model makes one pass and has no such flag).
      latent_size: Units per MLP layer.
      num_layers: Layers per MLP.
      aggregation: How the core aggregates edges into nodes and edges and nodes into globals.
        sum depends on the number of neighbours (it shifts on larger graphs than the training
        ones); mean and max do not, and max matches algorithms that pick an extreme over
        neighbours (Bellman-Ford, finding a successor).
      learning_rate: Initial Adam learning rate.
      final_learning_rate_fraction: Learning rate at the last iteration as a fraction of
        --learning_rate: it follows a cosine decay over --num_iterations (1 keeps it constant). A
        decayed rate averages out the gradient noise of the last iterations.
      seed: Seed of the data, the initial parameters and everything else.
      log_every: Iterations between metrics rows.
      num_eval_graphs: Graphs per size range for the final figures.
    """

    num_iterations: int
    batch_size_train: int
    batch_size_test: int
    num_processing_steps: int | None
    latent_size: int
    num_layers: int
    aggregation: str
    learning_rate: float
    final_learning_rate_fraction: float
    seed: int
    log_every: int
    num_eval_graphs: int

    def __post_init__(self):
        for name in ("num_iterations", "batch_size_train", "batch_size_test",
                     "num_processing_steps", "latent_size", "num_layers", "learning_rate",
                     "log_every", "num_eval_graphs"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive, got {value}.")
        if self.aggregation not in REDUCERS:
            raise ValueError(f"aggregation must be one of {', '.join(sorted(REDUCERS))}, got "
                             f"{self.aggregation!r}.")
        if not 0 <= self.final_learning_rate_fraction <= 1:
            raise ValueError(f"final_learning_rate_fraction must be in [0, 1], got "
                             f"{self.final_learning_rate_fraction}.")
        if not 0 <= self.seed <= common.SEED_MAX:
            raise ValueError(f"seed must be in [0, {common.SEED_MAX}], got {self.seed}.")


@dataclasses.dataclass(frozen=True)
class OutputConfig:
    """Where a demo writes and how often it checkpoints: settings its numbers do not depend on
    (the checkpoint does not record them). `define_training_flags` makes their flags, with each
    demo's `--output_dir` default.

    Attributes:
      output_dir: Where results, metrics, plots and the checkpoint go.
      checkpoint_every: Iterations between checkpoints.
    """

    output_dir: str
    checkpoint_every: int = 1000

    def __post_init__(self):
        if not self.checkpoint_every > 0:
            raise ValueError(f"checkpoint_every must be positive, got {self.checkpoint_every}.")


OUTPUT_FLAGS = ("checkpoint_every", "output_dir")


def define_training_flags(*, num_iterations: int, batch_size_train: int, batch_size_test: int,
                          num_processing_steps: int | None, log_every: int, num_eval_graphs: int,
                          output_dir: str, latent_size: int = 16, num_layers: int = 2,
                          learning_rate: float = 1e-3, final_learning_rate_fraction: float = 1.0,
                          aggregation: str = "sum") -> None:
    """Defines the flags every demo shares, with the demo's defaults: `TrainingConfig`'s (seed
    0) and `OutputConfig`'s (`--checkpoint_every`, `--output_dir`).

    A demo calls `flags.adopt_module_key_flags(gn_common)` so that its `--help` lists them.
    `num_processing_steps=None` leaves out `--num_processing_steps`, for a model that makes one
    pass (the config then records None).
    """
    defaults = dict(num_iterations=num_iterations, batch_size_train=batch_size_train,
                    batch_size_test=batch_size_test, num_processing_steps=num_processing_steps,
                    latent_size=latent_size, num_layers=num_layers, aggregation=aggregation,
                    learning_rate=learning_rate,
                    final_learning_rate_fraction=final_learning_rate_fraction, seed=0,
                    log_every=log_every, num_eval_graphs=num_eval_graphs)
    names = [name for name in TRAINING_FLAGS if defaults[name] is not None]
    config_flags.define(TrainingConfig, names, choices={"aggregation": sorted(REDUCERS)},
                        defaults=defaults)
    config_flags.define(OutputConfig, OUTPUT_FLAGS, defaults={"output_dir": output_dir})


def training_config_from_flags() -> TrainingConfig:
    """The shared settings' flags as a `TrainingConfig`."""
    names = [name for name in TRAINING_FLAGS if name in FLAGS]
    fixed: dict[str, Any] = ({} if "num_processing_steps" in FLAGS
                             else {"num_processing_steps": None})
    return config_flags.build(TrainingConfig, names, **fixed)


def output_config_from_flags() -> OutputConfig:
    """`--output_dir` and `--checkpoint_every` as an `OutputConfig`."""
    return config_flags.build(OutputConfig, OUTPUT_FLAGS)


def checkpoint_config(demo: str, config: Any, data_shards: int) -> dict[str, Any]:
    """What the checkpoint and results.json record of a demo's config dataclass; the training
    batches depend on the number of `data_shards` (devices over all processes) too."""
    return {"format_version": checkpoints.FORMAT_VERSION, "demo": demo, "data_shards": data_shards,
            **dataclasses.asdict(config)}


def rng_for(seed: int, stream: int, index: int = 0) -> np.random.Generator:
    """A numpy Generator that depends only on (seed, stream, index), e.g. index = iteration."""
    return np.random.default_rng([seed, stream, index])


def train_rng(seed: int, iteration: int, shard: int, num_shards: int) -> np.random.Generator:
    """The randomness of one shard of an iteration's training batch (one shard: as `rng_for`)."""
    return rng_for(seed, TRAIN_STREAM, iteration * num_shards + shard)


def shard_size(training: TrainingConfig, num_shards: int) -> int:
    """Training graphs per shard; raises `ExperimentError` unless the shards split evenly."""
    if training.batch_size_train % num_shards:
        raise common.ExperimentError(
            f"--batch_size_train ({training.batch_size_train}) must be a multiple of the "
            f"{num_shards} devices it is split over.")
    return training.batch_size_train // num_shards


def edge_budget(graphs: Sequence[jraph.GraphsTuple], min_edges: int = 0) -> int:
    """The edges `pad_graphs` pads `graphs` to: `min_edges`, or where the graphs have more, the
    next power of two above their count (so a run sees few shapes)."""
    real_edges = int(np.sum(graphs[0].n_edge))
    return max(min_edges, MIN_PADDED_EDGES, utils.next_power_of_two(real_edges + 1))


def pad_graphs(graphs: Sequence[jraph.GraphsTuple], num_nodes: int,
               min_edges: int = 0) -> list[jraph.GraphsTuple]:
    """Pads graphs sharing one structure (e.g. inputs and targets) to `num_nodes` nodes.

    The edges are padded to `edge_budget(graphs, min_edges)`; `PADDING_GRAPHS` graph is added.
    """
    num_graphs = len(graphs[0].n_node) + PADDING_GRAPHS
    return [utils.pad_to(g, num_nodes, edge_budget(graphs, min_edges), num_graphs)
            for g in graphs]


def pad_shards(shards: Sequence[Sequence[jraph.GraphsTuple]], num_nodes: int,
               min_edges: int) -> list[list[jraph.GraphsTuple]]:
    """`pad_graphs` of this process's shards of a batch, all to the largest edge budget of any
    shard of any process, so that they stack (every process calls it together)."""
    budget = parallel.largest_over_processes(max(edge_budget(s, min_edges) for s in shards))
    return [pad_graphs(s, num_nodes, budget) for s in shards]


def real_graphs(graph: jraph.GraphsTuple) -> int:
    """The number of real graphs in a batch padded by `pad_graphs` (static)."""
    return graph.n_node.shape[0] - PADDING_GRAPHS


def make_network(training: TrainingConfig, edge_output_size: int | None,
                 node_output_size: int | None, global_output_size: int | None,
                 num_processing_steps: int | None = None) -> hk.Transformed:
    """EncodeProcessDecode: `apply(params, graph) -> list of output graphs`.

    It makes `num_processing_steps` core steps (default: the training's); the parameters do not
    depend on the number.
    """
    steps = training.num_processing_steps if num_processing_steps is None else num_processing_steps
    # Only the one-pass demo (rn_sort_of_clevr) has no steps, and it makes no such network.
    assert steps is not None, "an EncodeProcessDecode network needs num_processing_steps"

    def forward(graph: jraph.GraphsTuple) -> list[jraph.GraphsTuple]:
        model = models.EncodeProcessDecode(
            edge_output_size, node_output_size, global_output_size,
            latent_size=training.latent_size, num_layers=training.num_layers,
            reducer=REDUCERS[training.aggregation])
        return model(graph, steps)

    return hk.without_apply_rng(hk.transform(forward))


def masked_mean(values: jnp.ndarray, mask: jnp.ndarray) -> jnp.ndarray:
    """Mean of `values` over the entries where `mask` is true."""
    return jnp.sum(jnp.where(mask, values, 0.0)) / jnp.maximum(jnp.sum(mask), 1)


def classification_loss(outputs: Sequence[jraph.GraphsTuple], targets: jraph.GraphsTuple,
                        num_real_graphs: int | None = None) -> jnp.ndarray:
    """Softmax cross-entropy of node and edge labels, summed over processing steps.

    Each step's term is the mean over the nodes and edges of the first `num_real_graphs`
    graphs (default: all but the last, `pad_to`'s padding with one padding graph).
    """
    node_mask = utils.node_mask(targets, num_real_graphs)
    edge_mask = utils.edge_mask(targets, num_real_graphs)
    # An array, never `sum`'s 0 of no terms: there is one output per processing step, at least 1.
    return cast(jnp.ndarray, sum(
        masked_mean(optax.softmax_cross_entropy(out.nodes, targets.nodes), node_mask)
        + masked_mean(optax.softmax_cross_entropy(out.edges, targets.edges), edge_mask)
        for out in outputs))


def classification_counts(output: jraph.GraphsTuple, targets: jraph.GraphsTuple,
                          num_real_graphs: int | None = None) -> dict[str, jnp.ndarray]:
    """Correct nodes, correct edges and exactly solved graphs (with totals) of one padded batch.

    Counts the first `num_real_graphs` graphs (default: all but the last, as in
    `classification_loss`).
    """
    node_mask = utils.node_mask(targets, num_real_graphs)
    edge_mask = utils.edge_mask(targets, num_real_graphs)
    graph_mask = utils.graph_mask(targets, num_real_graphs)
    node_wrong = (jnp.argmax(output.nodes, -1) != jnp.argmax(targets.nodes, -1)) & node_mask
    edge_wrong = (jnp.argmax(output.edges, -1) != jnp.argmax(targets.edges, -1)) & edge_mask
    num_graphs = targets.n_node.shape[0]
    wrong_per_graph = (
        jax.ops.segment_sum(node_wrong.astype(jnp.int32), blocks.node_graph_index(targets),
                            num_graphs)
        + jax.ops.segment_sum(edge_wrong.astype(jnp.int32), blocks.edge_graph_index(targets),
                              num_graphs))
    return {
        "nodes_correct": jnp.sum(node_mask & ~node_wrong), "nodes": jnp.sum(node_mask),
        "edges_correct": jnp.sum(edge_mask & ~edge_wrong), "edges": jnp.sum(edge_mask),
        "graphs_solved": jnp.sum(graph_mask & (wrong_per_graph == 0)),
        "graphs": jnp.sum(graph_mask),
    }


def accuracies(counts: Mapping[str, float]) -> dict[str, float]:
    """Node accuracy, edge accuracy and fraction solved from summed `classification_counts`."""
    return {"node_accuracy": float(counts["nodes_correct"] / counts["nodes"]),
            "edge_accuracy": float(counts["edges_correct"] / counts["edges"]),
            "solved": float(counts["graphs_solved"] / counts["graphs"])}


def sum_counts(batches: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Adds up per-batch count dicts."""
    return {key: float(sum(np.asarray(b[key]) for b in batches)) for key in batches[0]}


class TrainState(NamedTuple):
    """Everything a checkpoint holds: parameters, optimizer state, iteration and metrics log."""

    params: Params
    opt_state: optax.OptState
    iteration: np.ndarray  # scalar: iterations done
    log: np.ndarray  # [num rows, num columns], NaN where not logged yet


def log_rows(num_iterations: int, log_every: int) -> list[int]:
    """Iterations after which a metrics row is written (the last one always)."""
    steps = list(range(log_every, num_iterations + 1, log_every))
    return steps if steps and steps[-1] == num_iterations else steps + [num_iterations]


def learning_rate_schedule(training: TrainingConfig) -> optax.Schedule:
    """Cosine decay from the learning rate to its final fraction over the run."""
    return optax.cosine_decay_schedule(training.learning_rate, training.num_iterations,
                                       alpha=training.final_learning_rate_fraction)


ShardBatches = Callable[[int, Sequence[int], int], list[Batch]]


def train(*, training: TrainingConfig, checkpoint_every: int,
          loss_fn: Callable[[Params, Batch], jnp.ndarray], init_params: Params,
          batches_for_iteration: ShardBatches,
          evaluate: Callable[[Params], Mapping[str, float]], columns: Sequence[str],
          output_dir: str, config: Mapping[str, Any]) -> tuple[Params, list[dict[str, float]]]:
    """Data-parallel Adam (rate from `learning_rate_schedule`) on `loss_fn`, in
    `training_loop.train` (checkpoints, exact resume, progress lines, divergence stop).

    `batches_for_iteration(iteration, shards, num_shards)` is this process's padded batches of
    an iteration, one per entry of `shards` (its positions on the mesh of all `num_shards`
    devices, `graphnets.parallel.process_shards`); the step minimises the mean of `loss_fn` over
    the shards. The checkpoint is `output_dir`'s, when there is one; `config` is what it must
    have been written with. Every `log_every` iterations a row (step, training loss, then
    `evaluate(params)` of host copies of the parameters, whose keys are `columns`) is added to
    the log, which the checkpoint holds (`TrainState`). Returns the final parameters (on the
    host) and the metrics rows.
    """
    mesh = parallel.data_mesh()
    shards, num_shards = parallel.process_shards(mesh), mesh.devices.size
    optimizer = optax.adam(learning_rate_schedule(training))
    update = parallel.data_parallel_train_step(loss_fn, optimizer, mesh)

    def step(state: tuple[Params, optax.OptState, Any], iteration: int) -> tuple[Any, ...]:
        params, opt_state, _ = state
        batches = parallel.shard_graphs(batches_for_iteration(iteration, shards, num_shards),
                                        mesh)
        return update(params, opt_state, batches)  # (params, opt_state, loss)

    def row(state: tuple[Params, optax.OptState, Any], done: int) -> dict[str, float]:
        params, _, loss = state
        return {"step": done, "loss": float(parallel.to_host(loss)),
                **evaluate(parallel.to_host(params))}

    def losses(state: tuple[Params, optax.OptState, Any],
               logged: Mapping[str, float] | None) -> dict[str, float]:
        return {"loss": logged["loss"] if logged else float(parallel.to_host(state[2]))}

    trainer = training_loop.Trainer(
        init=lambda: (init_params, optimizer.init(init_params)), step=step,
        to_device=lambda state: (*parallel.replicate(state, mesh), None),
        to_host=lambda state: parallel.to_host(state[:2]), row=row, losses=losses,
        checkpoint_tree=lambda state, done, log: TrainState(state[0], state[1],
                                                            np.asarray(done, np.int64), log),
        from_checkpoint=lambda tree: ((tree.params, tree.opt_state), int(tree.iteration),
                                      tree.log),
        num_steps=training.num_iterations, checkpoint_every=checkpoint_every,
        log_steps=log_rows(training.num_iterations, training.log_every),
        columns=["step", "loss", *columns], int_columns={"step"},
        describe=lambda done: f"iteration {done}", row_name="logged iteration",
        step_name="iteration")
    state, rows = training_loop.train(trainer, output_dir, config)
    return parallel.to_host(state[0]), rows


def plot_metrics(rows: Sequence[Mapping[str, float]], path: str, title: str) -> None:
    """`plots.plot_learning_curves` of every logged metric; losses and errors on a log scale."""
    names = [k for k in rows[0] if k != "step"]
    plots.plot_learning_curves(
        path, rows, "step", names, title, "iteration",
        log_scale=[n for n in names if n == "loss" or "error" in n or "mse" in n])


def draw_labelled_graph(ax: Any, positions: np.ndarray, senders: np.ndarray,
                        receivers: np.ndarray, node_on: np.ndarray, edge_on: np.ndarray,
                        title: str, curved: bool = False, background_edges: bool = True) -> None:
    """Draws a graph with its positive node and edge labels highlighted (edges as arrows)."""
    style = f"arc3,rad={0.4 if curved else 0.0}"
    for s, r, on in zip(senders, receivers, edge_on):
        if s == r or not (on or background_edges):
            continue
        ax.annotate("", xy=positions[r], xytext=positions[s], arrowprops=dict(
            arrowstyle="-|>" if on else "-", connectionstyle=style, shrinkA=4, shrinkB=4,
            color="crimson" if on else "0.8", lw=2.0 if on else 0.6))
    loops = senders[(senders == receivers) & edge_on]
    ax.scatter(*positions.T, s=40, c=np.where(node_on, "crimson", "steelblue"), zorder=3)
    ax.scatter(*positions[loops].T, s=160, facecolors="none", edgecolors="crimson", zorder=3)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def unpad_first_graph(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """The first graph of a batch, as numpy arrays."""
    n, e = int(graph.n_node[0]), int(graph.n_edge[0])
    return jraph.GraphsTuple(
        nodes=None if graph.nodes is None else np.asarray(graph.nodes[:n]),
        edges=None if graph.edges is None else np.asarray(graph.edges[:e]),
        senders=np.asarray(graph.senders[:e]), receivers=np.asarray(graph.receivers[:e]),
        n_node=np.asarray(graph.n_node[:1]), n_edge=np.asarray(graph.n_edge[:1]),
        globals=None if graph.globals is None else np.asarray(graph.globals[:1]))


class Timer:
    """Wall seconds since construction."""

    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.t0
