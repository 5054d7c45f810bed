"""Training-step throughput of graphnets.GraphNetwork against jraph and PyTorch Geometric.

    .venv/bin/python -m benchmarks.gn_throughput [--torch_python=.bench_venv/bin/python]

One training step (forward, backward, Adam) of a full GN block (edge, node and
global updates, each a 2-layer MLP of 128 units, sum aggregation) on 100
graphs with 10,000 nodes, 50,000 edges and 128 features everywhere:

* graphnets.GraphNetwork (first MLP layer applied per node / per graph, then gathered);
* jraph.GraphNetwork with the same Haiku MLPs and the same parameters (outputs compared);
* torch_geometric.nn.MetaLayer, run by `--torch_python` in a subprocess
  (torch and PyG live in their own environment, e.g. `.bench_venv`).

The three are timed round-robin (a round of steps each, repeated; medians
reported) so that load from other processes on a shared machine hits all alike.

Then graphs per second in the demo regime: 32 graphs of 8-16 nodes.
Peak memory: XLA's buffer sizes of the compiled step for the JAX models (arguments,
outputs and temporaries); the growth of peak resident memory over the steps for PyG.

This file also serves as the PyG worker (`--pyg_worker`), so it imports jax lazily.
"""

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import NamedTuple

NUM_GRAPHS, NUM_NODES, NUM_EDGES, FEATURES, HIDDEN = 100, 10_000, 50_000, 128, 128
SMALL_GRAPHS, SMALL_MIN_NODES, SMALL_MAX_NODES, SMALL_EDGES_PER_NODE = 32, 8, 16, 4
LEARNING_RATE = 1e-3


class Timing(NamedTuple):
    """Seconds per step: wall clock, and CPU time of all the process's threads."""

    wall: float
    cpu: float


def _median_timing(timings: list[Timing]) -> Timing:
    return Timing(statistics.median(t.wall for t in timings), statistics.median(t.cpu for t in timings))


def _workload(seed: int = 0) -> dict:
    """Random graphs of the big workload as numpy arrays (edges stay inside their graph)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_node = np.full(NUM_GRAPHS, NUM_NODES // NUM_GRAPHS, np.int32)
    n_edge = np.full(NUM_GRAPHS, NUM_EDGES // NUM_GRAPHS, np.int32)
    return _random_graphs(rng, n_node, n_edge)


def _random_graphs(rng, n_node, n_edge) -> dict:
    """Features and in-graph random edges for the given per-graph counts."""
    import numpy as np

    offsets = np.repeat(np.cumsum(n_node) - n_node, n_edge)
    sizes = np.repeat(n_node, n_edge)
    return {
        "nodes": rng.normal(size=(n_node.sum(), FEATURES)).astype(np.float32),
        "edges": rng.normal(size=(n_edge.sum(), FEATURES)).astype(np.float32),
        "globals": rng.normal(size=(len(n_node), FEATURES)).astype(np.float32),
        "senders": (offsets + rng.integers(0, sizes)).astype(np.int32),
        "receivers": (offsets + rng.integers(0, sizes)).astype(np.int32),
        "n_node": n_node.astype(np.int32),
        "n_edge": n_edge.astype(np.int32),
    }


def _small_workload(seed: int = 1) -> dict:
    """The demo regime: 32 graphs of 8-16 nodes, about 4 edges per node."""
    import numpy as np

    rng = np.random.default_rng(seed)
    n_node = rng.integers(SMALL_MIN_NODES, SMALL_MAX_NODES + 1, SMALL_GRAPHS).astype(np.int32)
    return _random_graphs(rng, n_node, n_node * SMALL_EDGES_PER_NODE)


# ---------------------------------------------------------------- JAX side


def _jax_models():
    """Haiku-transformed forward functions: graphnets and jraph, same parameter shapes."""
    import haiku as hk
    import jax.numpy as jnp
    import jraph

    import graphnets as gn

    def ours(graph):
        mlp = gn.make_mlp([HIDDEN, HIDDEN], layer_norm=False, activate_final=False)
        return gn.GraphNetwork(mlp, mlp, mlp)(graph)

    def theirs(graph):
        mlp = lambda name: hk.nets.MLP([HIDDEN, HIDDEN], name=name)
        # Concatenation orders follow graphnets' blocks so the same parameters mean the same function.
        net = jraph.GraphNetwork(
            update_edge_fn=lambda e, s, r, u: mlp("edge_mlp")(jnp.concatenate([e, r, s, u], axis=-1)),
            update_node_fn=lambda v, sent, received, u: mlp("node_mlp")(jnp.concatenate([received, v, u], axis=-1)),
            update_global_fn=lambda v, e, u: mlp("global_mlp")(jnp.concatenate([e, v, u], axis=-1)),
        )
        return net(graph)

    return hk.without_apply_rng(hk.transform(ours)), hk.without_apply_rng(hk.transform(theirs))


def _jraph_params_as_ours(jraph_params: dict) -> dict:
    """Renames jraph-model parameters to the graphnets model's module names."""
    return {
        f"graph_network/~/{block}_block/mlp/~/linear_{i}": jraph_params[f"{block}_mlp/~/linear_{i}"]
        for block in ("edge", "node", "global") for i in range(2)
    }


def _loss(outputs) -> "jax.Array":
    import jax.numpy as jnp

    return jnp.mean(outputs.edges ** 2) + jnp.mean(outputs.nodes ** 2) + jnp.mean(outputs.globals ** 2)


def _train_step(model, optimizer):
    """A jitted (params, opt_state, graph) -> (params, opt_state, loss) step."""
    import jax
    import optax

    def step(params, opt_state, graph):
        loss, grads = jax.value_and_grad(lambda p: _loss(model.apply(p, graph)))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return jax.jit(step)


def _xla_peak_bytes(step, *args) -> int:
    """Arguments + outputs + temporaries of the compiled step, less buffers it aliases."""
    stats = step.lower(*args).compile().memory_analysis()
    return (stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes
            - stats.alias_size_in_bytes)


def _time_steps(step, state, graph, num_steps: int) -> tuple[Timing, tuple]:
    """Time per step over `num_steps` steps, and the (params, opt_state) after them."""
    import jax

    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(num_steps):
        params, opt_state, _ = step(*state, graph)
        state = (params, opt_state)
    jax.block_until_ready(state)
    return Timing((time.perf_counter() - wall) / num_steps, (time.process_time() - cpu) / num_steps), state


def _relative_error(actual, expected) -> float:
    """Largest absolute difference relative to the largest magnitude of `expected`."""
    import numpy as np

    return float(np.max(np.abs(actual - expected)) / (np.max(np.abs(expected)) + 1e-30))


def _compare_jax(graph, rounds: int, steps_per_round: int, pyg: "PygWorker | None") -> dict:
    """Times ours, jraph and PyG round-robin (fair under shared CPUs); checks ours and jraph agree."""
    import jax
    import numpy as np
    import optax

    ours, theirs = _jax_models()
    jraph_params = theirs.init(jax.random.PRNGKey(0), graph)
    our_params = _jraph_params_as_ours(jraph_params)
    assert jax.tree_util.tree_structure(our_params) == jax.tree_util.tree_structure(
        ours.init(jax.random.PRNGKey(0), graph)), "parameter mapping does not cover the graphnets model"

    out_ours, out_theirs = jax.jit(ours.apply)(our_params, graph), jax.jit(theirs.apply)(jraph_params, graph)
    output_error = max(_relative_error(getattr(out_ours, f), getattr(out_theirs, f))
                       for f in ("nodes", "edges", "globals"))
    grad_ours = jax.jit(jax.grad(lambda p: _loss(ours.apply(p, graph))))(our_params)
    grad_theirs = _jraph_params_as_ours(jax.jit(jax.grad(lambda p: _loss(theirs.apply(p, graph))))(jraph_params))
    grad_error = max(_relative_error(a, b) for a, b in
                     zip(jax.tree_util.tree_leaves(grad_ours), jax.tree_util.tree_leaves(grad_theirs)))

    optimizer = optax.adam(LEARNING_RATE)
    runs = {"graphnets": (_train_step(ours, optimizer), our_params),
            "jraph": (_train_step(theirs, optimizer), jraph_params)}
    states, times, memory = {}, {name: [] for name in runs}, {}
    for name, (step, params) in runs.items():
        states[name] = (params, optimizer.init(params))
        memory[name] = _xla_peak_bytes(step, *states[name], graph)
        _, states[name] = _time_steps(step, states[name], graph, 2)  # compile and warm up
    for _ in range(rounds):
        for name, (step, _) in runs.items():
            timing, states[name] = _time_steps(step, states[name], graph, steps_per_round)
            times[name].append(timing)
        if pyg is not None:
            pyg.run_round()
    return {"timing": {name: _median_timing(t) for name, t in times.items()}, "memory": memory,
            "output_error": output_error, "grad_error": grad_error}


def _small_graph_rates(rounds: int, steps_per_round: int) -> dict[str, Timing]:
    """Graphs per wall second and per CPU second of training in the demo regime.

    For the GN at 128 units (ours and jraph's) and for the demos' model.
    """
    import haiku as hk
    import jax
    import jraph
    import optax

    import graphnets as gn

    graph = jraph.GraphsTuple(**_small_workload())
    ours, theirs = _jax_models()
    epd = hk.without_apply_rng(hk.transform(lambda g: gn.EncodeProcessDecode(None, 2, None)(g, 10)[-1]))
    optimizer = optax.adam(LEARNING_RATE)
    runs = {"graphnets GraphNetwork": (ours, _train_step), "jraph GraphNetwork": (theirs, _train_step),
            "graphnets EncodeProcessDecode (latent 16, 10 steps)": (epd, _epd_train_step)}
    rates = {}
    for name, (model, make_step) in runs.items():
        params = model.init(jax.random.PRNGKey(0), graph)
        step = make_step(model, optimizer)
        state = (params, optimizer.init(params))
        _, state = _time_steps(step, state, graph, 3)
        timing = _median_timing([_time_steps(step, state, graph, steps_per_round)[0] for _ in range(rounds)])
        rates[name] = Timing(SMALL_GRAPHS / timing.wall, SMALL_GRAPHS / timing.cpu)
    return rates


def _epd_train_step(model, optimizer):
    """A jitted training step for the EncodeProcessDecode model (node outputs only)."""
    import jax
    import jax.numpy as jnp
    import optax

    def step(params, opt_state, graph):
        loss, grads = jax.value_and_grad(lambda p: jnp.mean(model.apply(p, graph).nodes ** 2))(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return jax.jit(step)


# ---------------------------------------------------------------- PyG side (runs in the torch environment)


def _pyg_worker(steps_per_round: int) -> None:
    """Serves timed rounds of MetaLayer training steps on the big workload.

    Prints "ready" after warming up; then, for each "run" line read from stdin,
    the wall and CPU seconds per step of one round; at the end a JSON line of metadata.
    """
    import torch
    from torch import nn
    from torch_geometric.nn import MetaLayer
    from torch_geometric.utils import scatter

    def mlp(inputs: int) -> nn.Module:
        return nn.Sequential(nn.Linear(inputs, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, HIDDEN))

    class EdgeModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = mlp(4 * FEATURES)

        def forward(self, src, dst, edge_attr, u, batch):
            return self.mlp(torch.cat([edge_attr, dst, src, u[batch]], dim=1))

    class NodeModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = mlp(3 * FEATURES)

        def forward(self, x, edge_index, edge_attr, u, batch):
            received = scatter(edge_attr, edge_index[1], dim=0, dim_size=x.size(0), reduce="sum")
            return self.mlp(torch.cat([received, x, u[batch]], dim=1))

    class GlobalModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.mlp = mlp(3 * FEATURES)

        def forward(self, x, edge_index, edge_attr, u, batch):
            edge_batch = batch[edge_index[0]]
            edges = scatter(edge_attr, edge_batch, dim=0, dim_size=u.size(0), reduce="sum")
            nodes = scatter(x, batch, dim=0, dim_size=u.size(0), reduce="sum")
            return self.mlp(torch.cat([edges, nodes, u], dim=1))

    data = _workload()
    x, edge_attr, u = (torch.from_numpy(data[k]) for k in ("nodes", "edges", "globals"))
    edge_index = torch.from_numpy(__import__("numpy").stack([data["senders"], data["receivers"]])).long()
    batch = torch.repeat_interleave(torch.arange(NUM_GRAPHS), torch.from_numpy(data["n_node"]).long())
    model = MetaLayer(EdgeModel(), NodeModel(), GlobalModel())
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)

    def step():
        optimizer.zero_grad()
        nodes, edges, globals_ = model(x, edge_index, edge_attr, u, batch)
        loss = (edges ** 2).mean() + (nodes ** 2).mean() + (globals_ ** 2).mean()
        loss.backward()
        optimizer.step()

    rss_before = _current_rss_bytes()
    for _ in range(2):
        step()
    print("ready", flush=True)
    for line in sys.stdin:
        if line.strip() != "run":
            break
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(steps_per_round):
            step()
        print((time.perf_counter() - wall) / steps_per_round, (time.process_time() - cpu) / steps_per_round,
              flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"peak_rss_growth": peak - rss_before, "torch": torch.__version__,
                      "threads": torch.get_num_threads()}), flush=True)


def _current_rss_bytes() -> int:
    """Resident memory of this process now (Linux)."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PygWorker:
    """The PyG worker process, driven round by round so its rounds interleave with JAX's."""

    def __init__(self, torch_python: str, steps_per_round: int):
        command = [torch_python, os.path.abspath(__file__), "--pyg_worker", f"--steps_per_round={steps_per_round}"]
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self._process.stdout.readline().strip() != "ready":
            raise RuntimeError("the PyG worker failed to start (see its error output above)")
        self.timings: list[Timing] = []

    def run_round(self) -> None:
        self._process.stdin.write("run\n")
        self._process.stdin.flush()
        self.timings.append(Timing(*map(float, self._process.stdout.readline().split())))

    def finish(self) -> dict:
        """Stops the worker; its metadata plus the median timing per step."""
        self._process.stdin.write("quit\n")
        self._process.stdin.flush()
        result = json.loads(self._process.stdout.readline())
        self._process.wait()
        return dict(result, timing=_median_timing(self.timings))


def _start_pyg(torch_python: str, steps_per_round: int) -> PygWorker | None:
    """Starts the PyG worker in the torch environment; None (with a note) if it is unavailable."""
    if not os.path.exists(torch_python):
        print(f"NOTE: {torch_python} not found, so PyG is skipped. Create it with: python3 -m venv .bench_venv "
              "&& .bench_venv/bin/pip install torch==2.13.0 torch_geometric")
        return None
    try:
        return PygWorker(torch_python, steps_per_round)
    except RuntimeError as error:
        print(f"NOTE: {error}, so PyG is skipped.")
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--torch_python", default=".bench_venv/bin/python")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps_per_round", type=int, default=4)
    parser.add_argument("--pyg_worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pyg_worker:
        _pyg_worker(args.steps_per_round)
        return

    import jax
    import jraph

    graph = jraph.GraphsTuple(**_workload())
    print(f"Workload: {NUM_GRAPHS} graphs, {NUM_NODES} nodes, {NUM_EDGES} edges, {FEATURES} features, "
          f"2-layer MLPs of {HIDDEN} units, one training step (forward, backward, Adam). jax {jax.__version__} "
          f"on {jax.devices()[0].platform}, {os.cpu_count()} CPUs.")
    pyg_worker = _start_pyg(args.torch_python, args.steps_per_round)
    jax_results = _compare_jax(graph, args.rounds, args.steps_per_round, pyg_worker)
    pyg = pyg_worker.finish() if pyg_worker is not None else None

    ours = jax_results["timing"]["graphnets"]
    rows = [("graphnets.GraphNetwork", ours, f"{jax_results['memory']['graphnets'] / 2**20:.0f} MiB XLA buffers"),
            ("jraph.GraphNetwork", jax_results["timing"]["jraph"],
             f"{jax_results['memory']['jraph'] / 2**20:.0f} MiB XLA buffers")]
    if pyg is not None:
        rows.append((f"PyG MetaLayer (torch {pyg['torch']}, {pyg['threads']} threads)", pyg["timing"],
                     f"{pyg['peak_rss_growth'] / 2**20:.0f} MiB peak RSS growth"))
    print("\nPer training step; 'CPU' is CPU time of all threads, the steadier measure on a shared machine.")
    print(f"{'model':<46}{'wall ms':>9}{'steps/s':>9}{'CPU ms':>9}{'ours faster: wall':>19}{'CPU':>7}  peak memory")
    for name, timing, memory in rows:
        print(f"{name:<46}{timing.wall * 1e3:>9.1f}{1 / timing.wall:>9.2f}{timing.cpu * 1e3:>9.1f}"
              f"{timing.wall / ours.wall:>18.2f}x{timing.cpu / ours.cpu:>6.2f}x  {memory}")
    print(f"\ngraphnets vs jraph, same parameters: max relative difference of outputs "
          f"{jax_results['output_error']:.1e}, of gradients {jax_results['grad_error']:.1e} "
          f"({'within' if max(jax_results['output_error'], jax_results['grad_error']) < 1e-4 else 'OUTSIDE'} "
          "float32 tolerance 1e-4)")

    print(f"\nDemo regime ({SMALL_GRAPHS} graphs of {SMALL_MIN_NODES}-{SMALL_MAX_NODES} nodes, "
          f"{SMALL_EDGES_PER_NODE} edges per node), training steps:")
    for name, rate in _small_graph_rates(args.rounds, args.steps_per_round * 5).items():
        print(f"  {name:<56}{rate.wall:>8.0f} graphs/s{rate.cpu:>8.0f} graphs per CPU second")


if __name__ == "__main__":
    main()
