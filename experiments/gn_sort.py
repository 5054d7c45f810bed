r"""Sorting with a graph network: train on short lists, test on longer ones.

    python -m experiments.gn_sort --output_dir=runs/gn_sort

Each list of U(0, 1) numbers is a fully connected graph; the network marks the smallest element
and, for every element, the edge to its successor. Writes results.json (node/edge accuracy and
fraction of lists sorted exactly, on the training lengths and on longer lists), metrics.csv,
learning_curves.png and generalisation_example.png; reruns resume from the checkpoint.

The network does not see the raw (all-zero) edge features but `network_inputs`: on each edge
the difference of the two values times the list's length, a normalization that makes the
features of neighbouring elements (about 1/n apart) look alike on the short training lists and
the long test lists. The core aggregates with max (finding a successor is picking an extreme
over the other elements, and a max does not grow with the list's length); with max, Adam at
1e-3 diverged after a few hundred iterations, so the learning rate starts at 3e-4 and decays
(cosine) to 1.5e-5 over the run.
"""

import dataclasses

import jraph
import numpy as np
from absl import flags

from experiments import common, distributed, gn_common, gn_labelling
from graphnets import blocks
from graphnets.datasets import sort

gn_labelling.define_labelling_flags(train_range=(8, 16), test_range=(16, 32))
gn_common.define_training_flags(num_iterations=10_000, batch_size_train=32, batch_size_test=100,
                                num_processing_steps=10, log_every=100, num_eval_graphs=1000,
                                output_dir="runs/gn_sort", learning_rate=3e-4,
                                final_learning_rate_fraction=0.05, aggregation="max")
flags.adopt_module_key_flags(gn_common)
flags.adopt_module_key_flags(gn_labelling)

SMALLEST_LIST = 1


@dataclasses.dataclass(frozen=True)
class SortConfig(gn_labelling.LabellingConfig):
    """Everything the demo's numbers depend on (the shared settings and the list lengths)."""


def config_from_flags() -> SortConfig:
    """The checked flags."""
    return gn_labelling.labelling_config_from_flags(SortConfig, SMALLEST_LIST)


def network_inputs(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """The lists as the network sees them: each edge s -> r carries n * (value_r - value_s).

    n is the list's length; neighbouring sorted values are about 1/n apart, so the scaled
    differences have the same distribution on the short training lists and the long test ones.
    """
    values = graph.nodes[:, 0]
    length = graph.n_node[blocks.edge_graph_index(graph)].astype(values.dtype)
    return graph._replace(
        edges=(length * (values[graph.receivers] - values[graph.senders]))[:, None])


def main(argv):
    del argv
    config = config_from_flags()
    output = gn_common.output_config_from_flags()
    distributed.join_from_flags()
    gn_labelling.run_labelling_demo(
        "sort", config, output_dir=output.output_dir,
        checkpoint_every=output.checkpoint_every, sample_batch=sort.sample_batch,
        edges_per_node=lambda max_nodes: max_nodes,
        plot_positions=lambda graph: np.stack(
            [graph.nodes[:, 0], np.zeros(len(graph.nodes))], axis=1),
        curved_edges=True, background_edges=False, network_inputs=network_inputs)


if __name__ == "__main__":
    common.run_main(main)
