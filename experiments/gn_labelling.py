"""The node and edge labelling demos' shared part (`gn_shortest_path`, `gn_sort`).

Their size flags (`define_labelling_flags`, made from `NodeRanges` and `LabellingConfig`),
config (`LabellingConfig`, which each demo extends with its own settings) and
`run_labelling_demo`: EncodeProcessDecode trained in `gn_common.train`, evaluated on the
training sizes and on larger graphs, with results, metrics, learning curves and one
generalisation graph drawn with true and predicted labels. A demo calls
`flags.adopt_module_key_flags(gn_labelling)` so that its `--help` lists the size flags.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import jax
import jax.numpy as jnp
import jraph
import numpy as np

from experiments import (
    checkpoints,
    common,
    config_flags,
    distributed,
    gn_common,
    plots,
    run_files,
)


@dataclasses.dataclass(frozen=True)
class NodeRanges:
    """Node counts of the training graphs and of the (larger) generalisation graphs; their flags
    are made from this dataclass (`define_labelling_flags`, with each demo's defaults), which
    checks them: no graph may have fewer than `smallest` nodes (the demo's, at least 1).

    Attributes:
      min_nodes_train: Fewest nodes of a training graph.
      max_nodes_train: Most nodes of a training graph.
      min_nodes_test: Fewest nodes of a generalisation graph.
      max_nodes_test: Most nodes of a generalisation graph.
    """

    min_nodes_train: int
    max_nodes_train: int
    min_nodes_test: int
    max_nodes_test: int
    smallest: dataclasses.InitVar[int] = 1

    def __post_init__(self, smallest: int):
        for split in SPLITS:
            low, high = self.of(split)
            if low < 1:
                raise ValueError(f"min_nodes_{split} must be at least 1, got {low}.")
            if low > high:
                raise ValueError(f"min_nodes_{split} ({low}) is above max_nodes_{split} "
                                 f"({high}).")
            if low < smallest:
                raise ValueError(f"min_nodes_{split} must be at least {smallest}, got {low}.")

    def of(self, split: str) -> tuple[int, int]:
        """(fewest, most) nodes of split "train" or "test"."""
        return getattr(self, f"min_nodes_{split}"), getattr(self, f"max_nodes_{split}")


SPLITS = ("train", "test")
NODE_FLAGS = ("min_nodes_train", "max_nodes_train", "min_nodes_test", "max_nodes_test")


@dataclasses.dataclass(frozen=True)
class LabellingConfig:
    """What a node and edge labelling demo's numbers depend on (see `run_labelling_demo`); a
    demo's subclass adds its own settings, their flags made from it the same way.

    Attributes:
      num_processing_steps_test: Message-passing steps when evaluating (unset:
        --num_processing_steps). The core is one function applied at every step, so it can run
        more steps than in training: larger graphs have longer paths for information to travel
        along.
    """

    training: gn_common.TrainingConfig
    sizes: NodeRanges
    # The core's steps when evaluating; None (the flag unset) becomes the training's.
    num_processing_steps_test: int | None

    def __post_init__(self):
        if self.num_processing_steps_test is None:
            object.__setattr__(self, "num_processing_steps_test",
                               self.training.num_processing_steps)
        steps = self.num_processing_steps_test
        if steps is None or not steps > 0:
            raise ValueError(f"num_processing_steps_test must be positive, got {steps}.")


LABELLING_FLAGS = ("num_processing_steps_test",)
Config = TypeVar("Config", bound=LabellingConfig)


def define_labelling_flags(train_range: tuple[int, int], test_range: tuple[int, int],
                           num_processing_steps_test: int | None = None) -> None:
    """`--min_nodes_train/--max_nodes_train/--min_nodes_test/--max_nodes_test` (`NodeRanges`)
    and `--num_processing_steps_test` (`LabellingConfig`; None: as many steps as training), with
    the demo's defaults."""
    config_flags.define(NodeRanges, NODE_FLAGS, defaults=dict(
        zip(NODE_FLAGS, (*train_range, *test_range))))
    config_flags.define(LabellingConfig, LABELLING_FLAGS,
                        defaults={"num_processing_steps_test": num_processing_steps_test})


def labelling_config_from_flags(cls: type[Config], smallest: int,
                                names: Sequence[str] = ()) -> Config:
    """`cls` (`LabellingConfig` or a demo's subclass) from the `define_training_flags` and
    `define_labelling_flags` flags and the subclass's own `names`; no graph may have fewer than
    `smallest` nodes."""
    training = gn_common.training_config_from_flags()
    sizes = config_flags.build(NodeRanges, NODE_FLAGS, smallest=smallest)
    return config_flags.build(cls, [*LABELLING_FLAGS, *names], training=training, sizes=sizes)


def plot_prediction(path: str, positions: np.ndarray, inputs: jraph.GraphsTuple,
                    targets: jraph.GraphsTuple, output: jraph.GraphsTuple, title: str,
                    curved: bool = False, background_edges: bool = True) -> None:
    """True and predicted labels of one (unpadded) graph side by side, saved as a PNG."""
    figure, axes = plots.new_figure(1, 2, size=(10, 4.5))
    for ax, graph, name in ((axes[0, 0], targets, "true"), (axes[0, 1], output, "predicted")):
        gn_common.draw_labelled_graph(ax, positions, inputs.senders, inputs.receivers,
                            np.argmax(graph.nodes, -1) == 1, np.argmax(graph.edges, -1) == 1,
                            name, curved, background_edges)
    figure.suptitle(title)
    plots.save_figure(figure, path)


SampleBatch = Callable[[np.random.Generator, int, int, int],
                       tuple[jraph.GraphsTuple, jraph.GraphsTuple]]


def run_labelling_demo(name: str, config: LabellingConfig, *, output_dir: str,
                       checkpoint_every: int, sample_batch: SampleBatch,
                       edges_per_node: Callable[[int], int],
                       plot_positions: Callable[[jraph.GraphsTuple], np.ndarray],
                       curved_edges: bool, background_edges: bool,
                       network_inputs: Callable[[jraph.GraphsTuple], jraph.GraphsTuple] = (
                           lambda graph: graph)) -> None:
    """Trains and evaluates EncodeProcessDecode on a node and edge labelling task.

    `config` (a `LabellingConfig`, or a subclass holding the demo's own settings) is what the
    checkpoint and results.json record;
    `sample_batch(rng, batch_size, min_nodes, max_nodes) -> (inputs, targets)`;
    `edges_per_node(max_nodes)` sizes the edge padding (more edges are padded to a power of 2);
    `plot_positions(inputs)` places the nodes of one graph for the example plot;
    `network_inputs(inputs)` (jittable, on padded batches) is what the network sees of the inputs.
    """
    training = config.training
    num_shards = jax.device_count()
    size = gn_common.shard_size(training, num_shards)
    output_dir = run_files.prepare_output_dir(output_dir, distributed.is_writer())
    recorded = gn_common.checkpoint_config(name, config, num_shards)
    checkpoints.check_resumable(os.path.join(output_dir, checkpoints.CHECKPOINT_NAME), recorded)
    timer = gn_common.Timer()
    network = gn_common.make_network(training, 2, 2, None)
    evaluation_network = gn_common.make_network(training, 2, 2, None,
                                                config.num_processing_steps_test)

    def budget(split: str, batch_size: int) -> tuple[int, int]:
        """(nodes, fewest edges) a padded batch of `batch_size` graphs of `split` has."""
        high = config.sizes.of(split)[1]
        return batch_size * high + 1, batch_size * high * edges_per_node(high) + 1

    def padded_batch(rng: np.random.Generator, split: str, batch_size: int) -> list[Any]:
        return gn_common.pad_graphs(sample_batch(rng, batch_size, *config.sizes.of(split)),
                          *budget(split, batch_size))

    def batches_for_iteration(iteration: int, shards: Sequence[int],
                              num_shards: int) -> list[list[Any]]:
        samples = [sample_batch(gn_common.train_rng(training.seed, iteration, shard, num_shards),
                                size, *config.sizes.of("train")) for shard in shards]
        return gn_common.pad_shards(samples, *budget("train", size))

    def loss_fn(params: gn_common.Params, batch: Sequence[jraph.GraphsTuple]) -> jnp.ndarray:
        inputs, targets = batch
        return gn_common.classification_loss(network.apply(params, network_inputs(inputs)), targets,
                                   gn_common.real_graphs(targets))

    @jax.jit
    def counts(params: gn_common.Params,
               batch: Sequence[jraph.GraphsTuple]) -> dict[str, jnp.ndarray]:
        inputs, targets = batch
        return gn_common.classification_counts(
            evaluation_network.apply(params, network_inputs(inputs))[-1], targets,
            gn_common.real_graphs(targets))

    def eval_batches(split: str, num_graphs: int) -> list[list[Any]]:
        sizes = [min(training.batch_size_test, num_graphs - start)
                 for start in range(0, num_graphs, training.batch_size_test)]
        stream = SPLITS.index(split)
        return [padded_batch(gn_common.rng_for(training.seed, gn_common.EVAL_STREAM,
                                               2 * k + stream), split, size)
                for k, size in enumerate(sizes)]

    monitor = {split: eval_batches(split, training.batch_size_test)[0] for split in SPLITS}

    def evaluate(params: gn_common.Params) -> dict[str, float]:
        row = {}
        for split, batch in monitor.items():
            scores = gn_common.accuracies(gn_common.sum_counts([counts(params, batch)]))
            row[f"{split}_node_accuracy"] = scores["node_accuracy"]
            row[f"{split}_solved"] = scores["solved"]
        return row

    # The parameters' shapes depend on the feature sizes only, the same in every batch.
    init_params = network.init(jax.random.PRNGKey(training.seed),
                               network_inputs(monitor["train"][0]))
    params, rows = gn_common.train(
        training=training, checkpoint_every=checkpoint_every, loss_fn=loss_fn,
        init_params=init_params, batches_for_iteration=batches_for_iteration,
        evaluate=evaluate, output_dir=output_dir, config=recorded,
        columns=[f"{split}_{m}" for split in SPLITS for m in ("node_accuracy", "solved")])

    figures = {}
    for split in SPLITS:
        low, high = config.sizes.of(split)
        batches = eval_batches(split, training.num_eval_graphs)
        figures[split] = {"min_nodes": low, "max_nodes": high,
                          "num_graphs": training.num_eval_graphs,
                          **gn_common.accuracies(
                              gn_common.sum_counts([counts(params, b) for b in batches]))}
    results = {"demo": name, "iterations": training.num_iterations,
               "train_range": figures["train"], "generalisation_range": figures["test"],
               "seconds_this_process": round(timer.seconds(), 1), "config": recorded}
    if not distributed.is_writer():
        return
    run_files.write_json(os.path.join(output_dir, "results.json"), results)
    gn_common.plot_metrics(rows, os.path.join(output_dir, "learning_curves.png"), name)
    inputs, targets = eval_batches("test", 1)[0]
    output = evaluation_network.apply(params, network_inputs(inputs))[-1]
    example_inputs, example_targets, example_output = (
        gn_common.unpad_first_graph(g) for g in (inputs, targets, output))
    plot_prediction(os.path.join(output_dir, "generalisation_example.png"),
                    plot_positions(example_inputs), example_inputs, example_targets,
                    example_output,
                    f"{name}: {int(example_inputs.n_node[0])}-node generalisation graph",
                    curved_edges, background_edges)
    print(format_labelling_results(figures))
    print(f"wrote {output_dir}/results.json, metrics.csv and plots", flush=True)


def format_labelling_results(figures: Mapping[str, Mapping[str, float]]) -> str:
    """The headline figures of a labelling demo as a table."""
    rows = [(f"{name} ({f['min_nodes']}-{f['max_nodes']} nodes)", f["node_accuracy"],
             f["edge_accuracy"], f["solved"])
            for name, f in (("train range", figures["train"]),
                            ("generalisation", figures["test"]))]
    return common.format_table(rows, ["graphs", "node acc", "edge acc", "solved"])
