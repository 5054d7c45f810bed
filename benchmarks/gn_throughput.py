"""Training-step throughput of graphnets.GraphNetwork against jraph and PyTorch Geometric.

    .venv/bin/python -m benchmarks.gn_throughput [--torch_python=.bench_venv/bin/python]
        [--rounds=5] [--min_round_seconds=3]

One training step (forward, backward, Adam) of a full GN block (edge, node and global updates,
each a 2-layer MLP of `--hidden` units, sum aggregation) on `--num_graphs` graphs with
`--num_nodes` nodes, `--num_edges` edges and `--features` features everywhere (by default 100
graphs, 10,000 nodes, 50,000 edges, 128 features and units), one interleaved table of:

* graphnets.GraphNetwork (first MLP layer applied per node / per graph, then gathered);
* jraph.GraphNetwork with the same Haiku MLPs and the same parameters (outputs compared);
* torch_geometric.nn.MetaLayer, run by `--torch_python` (torch and PyG live in their own
  virtualenv, e.g. `.bench_venv`) in `benchmarks.pyg_worker`; without it, a note says so.

Then graphs per second in the demo regime (`--small_graphs` graphs of 8-16 nodes), ours and
jraph's GN and the demos' EncodeProcessDecode. Notes give XLA's buffer sizes of the compiled
step for the JAX models (arguments, outputs and temporaries, less aliased buffers), and the
growth of peak resident memory over the warm-up steps for PyG.

`--cost` times only ours, on the large workload: XLA's cost analysis of the step (its matrix
products, gathers and scatters) at the machine's measured matrix-product rate and memory
bandwidth (`benchmarks.machine_rates`), as a share of the measured step, and its distance from
the floor that moving the gathered and scattered bytes sets:

    .venv/bin/python -m benchmarks.gn_throughput --cost
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import jraph
import numpy as np
import optax
from absl import flags

import graphnets as gn
from benchmarks import gn_workload, harness, hlo
from benchmarks.machine_rates import matmul_rate, memory_bandwidth

_TORCH_PYTHON = flags.DEFINE_string("torch_python", os.path.join(".bench_venv", "bin", "python"),
                                    "Interpreter of the virtualenv holding torch and PyG.")
_NUM_GRAPHS = flags.DEFINE_integer("num_graphs", 100, "Graphs in the large workload.",
                                   lower_bound=1)
_NUM_NODES = flags.DEFINE_integer("num_nodes", 10_000, "Nodes in the large workload.",
                                  lower_bound=1)
_NUM_EDGES = flags.DEFINE_integer("num_edges", 50_000, "Edges in the large workload.",
                                  lower_bound=0)
_FEATURES = flags.DEFINE_integer("features", 128, "Features of nodes, edges and globals.",
                                 lower_bound=1)
_HIDDEN = flags.DEFINE_integer("hidden", 128, "Units of every MLP layer.", lower_bound=1)
_SMALL_GRAPHS = flags.DEFINE_integer("small_graphs", 32, "Graphs per step in the demo regime.",
                                     lower_bound=1)
_COST = flags.DEFINE_bool("cost", False, "Print where the large workload's step goes (XLA's "
                          "cost analysis at the machine's measured rates) instead of comparing.")
_ROUNDS, _MIN_SECONDS = harness.define_round_flags()

SMALL_STEPS_PER_CALL = 10  # demo-regime steps take milliseconds: block once per ten
TOLERANCE = 1e-4  # float32 agreement of graphnets and jraph with the same parameters
ADAM_ACCESSES = 7  # float32 arrays of the parameters' size that an Adam step reads or writes


def jax_models(hidden: int) -> tuple[hk.Transformed, hk.Transformed]:
    """Haiku-transformed forward functions: graphnets and jraph, same parameter shapes."""

    def ours(graph):
        mlp = gn.make_mlp([hidden, hidden], layer_norm=False, activate_final=False)
        return gn.GraphNetwork(mlp, mlp, mlp)(graph)

    def theirs(graph):
        def mlp(name):
            return hk.nets.MLP([hidden, hidden], name=name)

        # Concatenation orders follow graphnets' blocks: the same parameters, the same function.
        net = jraph.GraphNetwork(
            update_edge_fn=lambda e, s, r, u: mlp("edge_mlp")(jnp.concatenate([e, r, s, u], -1)),
            update_node_fn=lambda v, sent, received, u: mlp("node_mlp")(
                jnp.concatenate([received, v, u], -1)),
            update_global_fn=lambda v, e, u: mlp("global_mlp")(jnp.concatenate([e, v, u], -1)))
        return net(graph)

    return hk.without_apply_rng(hk.transform(ours)), hk.without_apply_rng(hk.transform(theirs))


def jraph_params_as_ours(jraph_params: dict) -> dict:
    """Renames jraph-model parameters to the graphnets model's module names."""
    return {f"graph_network/~/{block}_block/mlp/~/linear_{i}":
            jraph_params[f"{block}_mlp/~/linear_{i}"]
            for block in ("edge", "node", "global") for i in range(2)}


def squared_loss(outputs: jraph.GraphsTuple) -> jax.Array:
    """Mean square of the outputs, a stand-in loss that touches every output."""
    return (jnp.mean(outputs.edges ** 2) + jnp.mean(outputs.nodes ** 2)
            + jnp.mean(outputs.globals ** 2))


def epd_node_loss(outputs: jraph.GraphsTuple) -> jax.Array:
    """Mean square of the node outputs (EncodeProcessDecode decodes nodes only)."""
    return jnp.mean(outputs.nodes ** 2)


def relative_error(actual, expected) -> float:
    """Largest absolute difference relative to the largest magnitude of `expected` (0 when
    empty: a workload without edges)."""
    if np.size(expected) == 0:
        return 0.0
    return float(np.max(np.abs(actual - expected)) / (np.max(np.abs(expected)) + 1e-30))


def agreement(ours: hk.Transformed, theirs: hk.Transformed, jraph_params: dict,
              graph: jraph.GraphsTuple) -> tuple[float, float]:
    """Largest relative difference of outputs and of gradients, graphnets against jraph, with
    the same parameters."""
    our_params = jraph_params_as_ours(jraph_params)
    # Any: jaxlib ships no stubs, so mypy cannot resolve (or compare) its PyTreeDef.
    mapped: Any = jax.tree.structure(our_params)
    if mapped != jax.tree.structure(ours.init(jax.random.PRNGKey(0), graph)):
        raise AssertionError("the parameter mapping does not cover the graphnets model")
    out_ours = jax.jit(ours.apply)(our_params, graph)
    out_theirs = jax.jit(theirs.apply)(jraph_params, graph)
    output_error = max(relative_error(getattr(out_ours, f), getattr(out_theirs, f))
                       for f in ("nodes", "edges", "globals"))
    grad_ours = jax.jit(jax.grad(lambda p: squared_loss(ours.apply(p, graph))))(our_params)
    grad_theirs = jraph_params_as_ours(
        jax.jit(jax.grad(lambda p: squared_loss(theirs.apply(p, graph))))(jraph_params))
    grad_error = max(relative_error(a, b) for a, b in
                     zip(jax.tree.leaves(grad_ours), jax.tree.leaves(grad_theirs)))
    return output_error, grad_error


def adam_step(model: hk.Transformed, loss, params: dict, graph: jraph.GraphsTuple):
    """`(step, state)`: a compiled Adam training step of `model` on `graph`,
    `step(*state, graph) -> (params, opt_state, loss)`, and the state it starts from."""
    optimizer = optax.adam(gn_workload.LEARNING_RATE)

    def step(params, opt_state, graph):
        value, grads = jax.value_and_grad(lambda p: loss(model.apply(p, graph)))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, value

    state = (params, optimizer.init(params))
    return jax.jit(step).lower(*state, graph).compile(), state


def training_contender(name: str, model: hk.Transformed, loss, params: dict,
                       graph: jraph.GraphsTuple, steps_per_call: int,
                       graphs_per_step: int) -> harness.Timed:
    """Adam training steps of `model`; each call runs `steps_per_call` steps, carrying the
    parameters on, and counts `graphs_per_step` units per step (1 to count steps)."""
    step, state = adam_step(model, loss, params, graph)
    buffers = hlo.xla_buffer_bytes(step)
    note = "" if buffers is None else f"{buffers / 2**20:.1f} MiB XLA buffers"

    def call() -> float:
        nonlocal state
        for _ in range(steps_per_call):
            params, opt_state, _ = step(*state, graph)
            state = (params, opt_state)
        jax.block_until_ready(state)
        return float(steps_per_call * graphs_per_step)

    return harness.Timed(name, call, note)


def workload_words(sizes: gn_workload.Sizes) -> str:
    """The large workload's sizes, as the reports print them."""
    return (f"{sizes.num_graphs} graphs, {sizes.num_nodes} nodes, {sizes.num_edges} edges, "
            f"{sizes.features} features, 2-layer MLPs of {sizes.hidden} units")


def compare_large(sizes: gn_workload.Sizes) -> None:
    """The large workload: ours, jraph and (when its virtualenv is there) PyG, interleaved."""
    graph = jraph.GraphsTuple(**gn_workload.large_workload(sizes))
    ours, theirs = jax_models(sizes.hidden)
    jraph_params = theirs.init(jax.random.PRNGKey(0), graph)
    output_error, grad_error = agreement(ours, theirs, jraph_params, graph)
    contenders = [
        training_contender("graphnets.GraphNetwork", ours, squared_loss,
                           jraph_params_as_ours(jraph_params), graph, 1, 1),
        training_contender("jraph.GraphNetwork", theirs, squared_loss, jraph_params, graph, 1, 1)]
    worker = harness.start_worker(
        "PyG", _TORCH_PYTHON.value, "benchmarks.pyg_worker", dataclasses.asdict(sizes),
        "python3 -m venv .bench_venv && .bench_venv/bin/pip install torch torch_geometric")
    title = (f"GN training step (forward, backward, Adam): {workload_words(sizes)}; "
             f"jax {jax.__version__} on {jax.devices()[0].platform}")
    harness.compare_with_worker(title, "steps", contenders, worker, _ROUNDS.value,
                                _MIN_SECONDS.value)
    within = "within" if max(output_error, grad_error) < TOLERANCE else "OUTSIDE"
    print(f"check: graphnets vs jraph with the same parameters: largest relative difference of "
          f"outputs {output_error:.1e}, of gradients {grad_error:.1e} ({within} float32 "
          f"tolerance {TOLERANCE:g})", flush=True)


def print_costs(sizes: gn_workload.Sizes) -> None:
    """`--cost`: where our large-workload step's time goes, and how far it is from the floor.

    XLA's cost analysis of the compiled step gives its matrix products (the MLPs) and its
    gathers and scatters (`hlo.indexed_moves`: the edge and global broadcasts, the segment
    sums and their gradients); the machine's matrix-product rate and memory bandwidth turn them
    into times, beside Adam's pass over parameters, gradients and moments. The floor is the
    gathers' and scatters' bytes at the measured bandwidth.
    """
    graph = jraph.GraphsTuple(**gn_workload.large_workload(sizes))
    ours, theirs = jax_models(sizes.hidden)
    params = jraph_params_as_ours(theirs.init(jax.random.PRNGKey(0), graph))
    step, _ = adam_step(ours, squared_loss, params, graph)
    flops, accessed = hlo.xla_flops_and_bytes(step)
    products, moves = hlo.matrix_products(step), hlo.indexed_moves(step)
    print(f"XLA cost analysis: one graphnets.GraphNetwork training step, {workload_words(sizes)}"
          f"\nin all: {flops / 1e6:,.1f} MFLOP, {accessed / 1e6:,.1f} MB accessed")
    for product in products[:6]:
        print(f"  {product.flops / 1e6:9.1f} MFLOP  {product.shapes}")
    for move in moves[:6]:
        print(f"  {move.bytes_moved / 1e6:9.1f} MB     {move.kind} {move.shape}")
    (ours_summary,) = harness.compare(
        f"GN training step: {workload_words(sizes)}", "steps",
        [training_contender("graphnets.GraphNetwork", ours, squared_loss, params, graph, 1, 1)],
        _ROUNDS.value, _MIN_SECONDS.value)
    matmul = matmul_rate(_ROUNDS.value, _MIN_SECONDS.value)
    bandwidth = memory_bandwidth(_ROUNDS.value, _MIN_SECONDS.value)
    step_seconds = 1.0 / ours_summary.median
    # Adam reads the parameters, gradients and both moments and writes three of them back.
    adam_bytes = ADAM_ACCESSES * 4 * sum(leaf.size for leaf in jax.tree.leaves(params))
    parts = [("matrix products (MLPs)", sum(p.flops for p in products) / matmul),
             *((f"{kind}s", sum(m.bytes_moved for m in moves if m.kind == kind) / bandwidth)
               for kind in ("gather", "scatter")),
             ("Adam", adam_bytes / bandwidth)]
    print(f"\nmeasured step: {step_seconds * 1e3:.1f} ms; at {matmul / 1e9:.0f} GFLOP/s and "
          f"{bandwidth / 1e9:.1f} GB/s (the medians above) its parts would take:")
    for name, seconds in parts:
        print(f"  {name:24s} {seconds * 1e3:7.1f} ms  {seconds / step_seconds:6.1%} of the step")
    floor = parts[1][1] + parts[2][1]
    print(f"floor (gathers and scatters at the bandwidth): {floor * 1e3:.1f} ms, "
          f"{floor / step_seconds:.0%} of the measured step")


def compare_small(num_graphs: int, features: int, hidden: int) -> None:
    """The demo regime: graphs per second of ours, jraph's GN and the demos' model."""
    graph = jraph.GraphsTuple(**gn_workload.small_workload(num_graphs, features))
    ours, theirs = jax_models(hidden)
    epd: hk.Transformed = hk.without_apply_rng(hk.transform(
        lambda g: gn.EncodeProcessDecode(None, 2, None)(g, 10)[-1]))
    key = jax.random.PRNGKey(0)
    contenders = [
        training_contender(f"graphnets GraphNetwork ({hidden} units)", ours, squared_loss,
                           ours.init(key, graph), graph, SMALL_STEPS_PER_CALL, num_graphs),
        training_contender(f"jraph GraphNetwork ({hidden} units)", theirs, squared_loss,
                           theirs.init(key, graph), graph, SMALL_STEPS_PER_CALL, num_graphs),
        training_contender("graphnets EncodeProcessDecode (latent 16, 10 steps)", epd,
                           epd_node_loss, epd.init(key, graph), graph, SMALL_STEPS_PER_CALL,
                           num_graphs)]
    harness.compare(f"Demo regime: training steps on {num_graphs} graphs of "
                    f"{gn_workload.SMALL_MIN_NODES}-{gn_workload.SMALL_MAX_NODES} nodes, "
                    f"{gn_workload.SMALL_EDGES_PER_NODE} edges per node, {features} features",
                    "graphs", contenders, _ROUNDS.value, _MIN_SECONDS.value)


def main() -> None:
    if _NUM_NODES.value < _NUM_GRAPHS.value:
        raise harness.FlagError(f"--num_nodes ({_NUM_NODES.value}) must be at least "
                                f"--num_graphs ({_NUM_GRAPHS.value}).")
    sizes = gn_workload.Sizes(_NUM_GRAPHS.value, _NUM_NODES.value, _NUM_EDGES.value,
                              _FEATURES.value, _HIDDEN.value)
    if _COST.value:
        print_costs(sizes)
        return
    compare_large(sizes)
    compare_small(_SMALL_GRAPHS.value, _FEATURES.value, _HIDDEN.value)


if __name__ == "__main__":
    harness.run(main)
