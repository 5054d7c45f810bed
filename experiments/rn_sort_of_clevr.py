r"""A relation network against an MLP on Sort-of-CLEVR (Santoro et al. 2017), from state
descriptions.

    python -m experiments.rn_sort_of_clevr --output_dir=runs/rn_sort_of_clevr

Trains, on freshly drawn scenes (`graphnets.datasets.sort_of_clevr`), two models side by side on
the same batches: the library's `RelationNetwork`, objects as nodes of a fully connected graph
with self edges and the question as the global, every relation conditioned on the question
(`use_globals`, as Santoro et al.'s g reads the question); and an MLP over the concatenated
object descriptions and question, as wide as makes its parameter count closest to the relation
network's. The relation model g is `--num_layers` ReLU layers of `--latent_size` units, the
answer model f one more such layer and the answer logits; the MLP has as many hidden layers as
g and f together. Their parameters are disjoint, so one Adam over both is two independent Adams
on one loss each. Reports the accuracy of each model on the relational and the non-relational
questions of a held-out test set, and per question type. Writes results.json, metrics.csv,
learning_curves.png and question_types.png; reruns resume from the checkpoint.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping, Sequence
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax
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
from graphnets import layers, modules, parallel
from graphnets.datasets import sort_of_clevr as clevr

gn_common.define_training_flags(num_iterations=40_000, batch_size_train=64, batch_size_test=500,
                                num_processing_steps=None, log_every=500, num_eval_graphs=10_000,
                                output_dir="runs/rn_sort_of_clevr", latent_size=128, num_layers=3,
                                final_learning_rate_fraction=0.05, aggregation="sum")
flags.adopt_module_key_flags(gn_common)

MODELS = ("relation_network", "mlp")
MODEL_NAMES = {"relation_network": "relation network", "mlp": "MLP"}
KINDS = ("relational", "non_relational")
NUM_ANSWERS = len(clevr.ANSWERS)
FLAT_SIZE = clevr.NUM_OBJECTS * clevr.OBJECT_SIZE + clevr.QUESTION_SIZE


@dataclasses.dataclass(frozen=True)
class ClevrConfig:
    """Everything the demo's numbers depend on: the shared settings and the scenes (whose flag is
    made from this dataclass, which checks it).

    Attributes:
      min_distance: Smallest distance between two objects of a scene (in the unit square).
    """

    training: gn_common.TrainingConfig
    min_distance: float = clevr.MIN_DISTANCE

    def __post_init__(self):
        if not self.min_distance >= 0:
            raise ValueError(f"min_distance must be at least 0, got {self.min_distance}.")
        if self.min_distance > clevr.MAX_MIN_DISTANCE:
            raise ValueError(f"min_distance must be at most {clevr.MAX_MIN_DISTANCE}, got "
                             f"{self.min_distance}.")


CLEVR_FLAGS = ("min_distance",)
config_flags.define(ClevrConfig, CLEVR_FLAGS)


def config_from_flags() -> ClevrConfig:
    """The checked flags."""
    return config_flags.build(ClevrConfig, CLEVR_FLAGS,
                              training=gn_common.training_config_from_flags())


def mlp_parameters(width: int, hidden_layers: int) -> int:
    """Weights and biases of the baseline MLP with `hidden_layers` layers of `width` units."""
    return ((FLAT_SIZE + 1) * width + (hidden_layers - 1) * (width + 1) * width
            + (width + 1) * NUM_ANSWERS)


def matching_mlp_width(parameters: int, hidden_layers: int) -> int:
    """The width whose baseline MLP has the parameter count closest to `parameters`."""
    width = 1
    while mlp_parameters(width + 1, hidden_layers) <= parameters:
        width += 1
    above = mlp_parameters(width + 1, hidden_layers) - parameters
    return width + 1 if above < parameters - mlp_parameters(width, hidden_layers) else width


def make_models(training: gn_common.TrainingConfig) -> tuple[hk.Transformed, Any]:
    """The relation network (`apply(params, graph) -> logits`) and a factory of the MLP
    baseline of a given width (`apply(params, flat_inputs) -> logits`)."""
    hidden = [training.latent_size] * training.num_layers

    def relation_network(graph):
        model = modules.RelationNetwork(
            lambda: layers.MLP(hidden, activate_final=True),
            lambda: layers.MLP([training.latent_size, NUM_ANSWERS]),
            reducer=gn_common.REDUCERS[training.aggregation], use_globals=True)
        return model(graph).globals

    def mlp(width: int) -> hk.Transformed:
        return hk.without_apply_rng(hk.transform(
            lambda inputs: layers.MLP([width] * (training.num_layers + 1) + [NUM_ANSWERS])(inputs)))

    return hk.without_apply_rng(hk.transform(relation_network)), mlp


def count_parameters(params: Any) -> int:
    """The number of scalars in a parameter tree."""
    return sum(int(np.size(leaf)) for leaf in jax.tree_util.tree_leaves(params))


def model_inputs(batch: clevr.Batch) -> dict[str, Any]:
    """What each model reads of a batch, and the answers."""
    return {"relation_network": clevr.to_graphs_tuple(batch), "mlp": clevr.flat_inputs(batch),
            "answers": batch.answers, "question_types": batch.question_types}


def accuracies(correct: np.ndarray, asked: np.ndarray) -> dict[str, Any]:
    """Accuracy on relational and non-relational questions, overall and per question type, from
    correct answers and questions asked per type."""
    relational = clevr.is_relational(np.arange(len(clevr.QUESTION_TYPES)))
    return {"relational_accuracy": float(correct[relational].sum() / asked[relational].sum()),
            "non_relational_accuracy": float(correct[~relational].sum()
                                             / asked[~relational].sum()),
            "accuracy": float(correct.sum() / asked.sum()),
            "by_question_type": {name: float(c / max(a, 1)) for name, c, a
                                 in zip(clevr.QUESTION_TYPES, correct, asked)}}


def run(config: ClevrConfig, output_dir: str, checkpoint_every: int) -> None:
    """Trains both models, evaluates them and writes results, metrics and plots."""
    training = config.training
    output_dir = run_files.prepare_output_dir(output_dir, distributed.is_writer())
    num_shards = parallel.data_mesh().devices.size
    recorded = gn_common.checkpoint_config("rn_sort_of_clevr", config, num_shards)
    checkpoints.check_resumable(os.path.join(output_dir, checkpoints.CHECKPOINT_NAME), recorded)
    size = gn_common.shard_size(training, num_shards)
    timer = gn_common.Timer()

    def batches_for_iteration(iteration: int, shards: Sequence[int],
                              num_shards: int) -> list[dict[str, Any]]:
        """One batch per shard; every scene has the same size, so none needs padding."""
        return [model_inputs(clevr.sample_batch(
            gn_common.train_rng(training.seed, iteration, shard, num_shards), size,
            config.min_distance)) for shard in shards]

    def test_batches(num_questions: int) -> list[dict[str, Any]]:
        sizes = [min(training.batch_size_test, num_questions - start)
                 for start in range(0, num_questions, training.batch_size_test)]
        return [model_inputs(clevr.sample_batch(
            gn_common.rng_for(training.seed, gn_common.EVAL_STREAM, k), size,
            config.min_distance)) for k, size in enumerate(sizes)]

    relation_network, mlp_of_width = make_models(training)
    (example,) = batches_for_iteration(0, [0], 1)
    rn_key, mlp_key = jax.random.split(jax.random.PRNGKey(training.seed))
    rn_params = relation_network.init(rn_key, example["relation_network"])
    mlp = mlp_of_width(matching_mlp_width(count_parameters(rn_params), training.num_layers + 1))
    init_params = {"relation_network": rn_params, "mlp": mlp.init(mlp_key, example["mlp"])}
    networks = {"relation_network": relation_network, "mlp": mlp}
    parameters = {name: count_parameters(init_params[name]) for name in MODELS}
    print(f"parameters: relation network {parameters['relation_network']:,}, "
          f"MLP {parameters['mlp']:,}", flush=True)

    def logits(params: Any, batch: Mapping[str, Any], name: str) -> jnp.ndarray:
        return networks[name].apply(params[name], batch[name])

    def loss_fn(params: Any, batch: Mapping[str, Any]) -> jnp.ndarray:
        return sum(optax.softmax_cross_entropy_with_integer_labels(
            logits(params, batch, name), batch["answers"]).mean() for name in MODELS)

    @jax.jit
    def correct_by_type(params: Any, batch: Mapping[str, Any]) -> dict[str, jnp.ndarray]:
        """Per model, the correct answers of each question type; and the questions of each."""
        types = jax.nn.one_hot(batch["question_types"], len(clevr.QUESTION_TYPES),
                               dtype=jnp.int32)
        out = {name: (jnp.argmax(logits(params, batch, name), -1) == batch["answers"]) @ types
               for name in MODELS}
        return {**out, "asked": jnp.sum(types, axis=0)}

    def scores(params: Any, batches: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        totals = [correct_by_type(params, batch) for batch in batches]
        summed = {key: np.sum([np.asarray(t[key]) for t in totals], axis=0) for key in totals[0]}
        return {name: accuracies(summed[name], summed["asked"]) for name in MODELS}

    monitor = test_batches(training.batch_size_test)[:1]

    def evaluate(params: Any) -> dict[str, float]:
        result = scores(params, monitor)
        return {f"{name}_{kind}": result[name][f"{kind}_accuracy"]
                for name in MODELS for kind in KINDS}

    params, rows = gn_common.train(
        training=training, checkpoint_every=checkpoint_every, loss_fn=loss_fn,
        init_params=init_params, batches_for_iteration=batches_for_iteration, evaluate=evaluate,
        output_dir=output_dir, config=recorded,
        columns=[f"{name}_{kind}" for name in MODELS for kind in KINDS])

    results = scores(params, test_batches(training.num_eval_graphs))
    if not distributed.is_writer():
        return
    run_files.write_json(os.path.join(output_dir, "results.json"), {
        "demo": "rn_sort_of_clevr", "iterations": training.num_iterations,
        "num_test_questions": training.num_eval_graphs, "parameters": parameters, **results,
        "seconds_this_process": round(timer.seconds(), 1), "config": recorded})
    gn_common.plot_metrics(rows, os.path.join(output_dir, "learning_curves.png"),
                           "Sort-of-CLEVR: test accuracy during training")
    plot_question_types(os.path.join(output_dir, "question_types.png"), results)
    print(common.format_table(
        [(name, parameters[name], r["relational_accuracy"], r["non_relational_accuracy"])
         for name, r in results.items()],
        ["model", "parameters", "relational acc", "non-relational acc"]))
    print(f"wrote {output_dir}/results.json, metrics.csv and plots", flush=True)


def draw_question_types(ax: Any, results: Mapping[str, Mapping[str, Any]]) -> None:
    """Bars of the test accuracy per question type, one color per model of `results`."""
    width = 0.8 / len(results)
    positions = np.arange(len(clevr.QUESTION_TYPES))
    for k, (name, result) in enumerate(results.items()):
        values = [result["by_question_type"][t] for t in clevr.QUESTION_TYPES]
        ax.bar(positions + (k + 0.5) * width - 0.4, values, width, label=MODEL_NAMES[name])
    ax.axvline(len(clevr.NON_RELATIONAL) - 0.5, color="0.5", lw=0.8, ls="--")
    ax.set_xticks(positions)
    ax.set_xticklabels([t.replace(" the ", "\nthe ") for t in clevr.QUESTION_TYPES], fontsize=8)
    ax.set_xlabel("question type (non-relational | relational)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Sort-of-CLEVR: accuracy per question type")


def plot_question_types(path: str, results: Mapping[str, Mapping[str, Any]]) -> None:
    """`draw_question_types` saved as a PNG."""
    figure, axes = plots.new_figure(1, 1, size=(9, 4))
    draw_question_types(axes[0, 0], results)
    plots.save_figure(figure, path)


def main(argv):
    del argv
    config = config_from_flags()
    output = gn_common.output_config_from_flags()
    distributed.join_from_flags()
    run(config, output.output_dir, output.checkpoint_every)


if __name__ == "__main__":
    common.run_main(main)
