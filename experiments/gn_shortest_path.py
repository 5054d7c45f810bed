r"""Shortest path with a graph network: train on small graphs, test on larger ones.

    python -m experiments.gn_shortest_path --output_dir=runs/gn_shortest_path

Writes results.json (node/edge accuracy and fraction solved on the training size range and on
the larger generalisation range), metrics.csv, learning_curves.png and
generalisation_example.png; rerunning the same command after a kill resumes from the checkpoint.

The core aggregates with max rather than sum (`--aggregation`): a shortest path is found by
Bellman-Ford-like relaxations, each a minimum over neighbours, which max aggregation matches;
and a max does not grow with the node degree, which is higher on the larger generalisation
graphs (more nodes in the same unit square). The learning rate decays (cosine) from 1e-3 to
5e-5 over the run. MLPs have 64 units, and evaluation runs 20 core steps
(`--num_processing_steps_test`): the larger graphs have longer shortest paths, and the shared
core keeps relaxing along them. At seed 7, of 1,000 graphs, 32 units solved 0.895 with 10 steps,
64 units 0.940 with 10 steps and 0.957 with 20. It scores 5,000 graphs per range
(`--num_eval_graphs`): over 1,000 the fraction solved has a standard error of 0.007, and one
model's score moved by 2 points between two seeds' samples.
"""

import dataclasses

from absl import flags

from experiments import common, config_flags, distributed, gn_common, gn_labelling
from graphnets.datasets import shortest_path

gn_labelling.define_labelling_flags(train_range=(8, 16), test_range=(16, 32),
                                 num_processing_steps_test=20)
gn_common.define_training_flags(num_iterations=10_000, batch_size_train=32, batch_size_test=100,
                                num_processing_steps=10, log_every=100, num_eval_graphs=5000,
                                output_dir="runs/gn_shortest_path", latent_size=64,
                                aggregation="max",
                                final_learning_rate_fraction=0.05)
flags.adopt_module_key_flags(gn_common)
flags.adopt_module_key_flags(gn_labelling)

SMALLEST_GRAPH = 2  # a start and an end node


@dataclasses.dataclass(frozen=True)
class ShortestPathConfig(gn_labelling.LabellingConfig):
    """Everything the demo's numbers depend on: the shared settings and the graphs' threshold.

    Attributes:
      theta: Geographic threshold of the graphs.
    """

    theta: float = shortest_path.THETA

    def __post_init__(self):
        super().__post_init__()
        if not self.theta > 0:
            raise ValueError(f"theta must be positive, got {self.theta}.")


OWN_FLAGS = ("theta",)
config_flags.define(ShortestPathConfig, OWN_FLAGS)


def config_from_flags() -> ShortestPathConfig:
    """The checked flags."""
    return gn_labelling.labelling_config_from_flags(ShortestPathConfig, SMALLEST_GRAPH,
                                                    OWN_FLAGS)


def main(argv):
    del argv
    config = config_from_flags()
    output = gn_common.output_config_from_flags()
    distributed.join_from_flags()
    gn_labelling.run_labelling_demo(
        "shortest_path", config, output_dir=output.output_dir,
        checkpoint_every=output.checkpoint_every,
        sample_batch=lambda rng, size, low, high: shortest_path.sample_batch(
            rng, size, low, high, config.theta),
        edges_per_node=lambda max_nodes: 4, plot_positions=lambda graph: graph.nodes[:, :2],
        curved_edges=False, background_edges=True)


if __name__ == "__main__":
    common.run_main(main)
