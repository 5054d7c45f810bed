"""The graphs `gn_throughput` trains on, as numpy arrays: the same in JAX and in the PyG worker.

Imports only numpy (and the standard library), since the PyG worker runs it in the torch
virtualenv.
"""

from __future__ import annotations

import dataclasses

import numpy as np

LEARNING_RATE = 1e-3
SMALL_MIN_NODES, SMALL_MAX_NODES, SMALL_EDGES_PER_NODE = 8, 16, 4


@dataclasses.dataclass(frozen=True)
class Sizes:
    """The large workload's sizes; every block is a 2-layer MLP of `hidden` units."""

    num_graphs: int
    num_nodes: int
    num_edges: int
    features: int
    hidden: int


def split_evenly(total: int, parts: int) -> np.ndarray:
    """`total` as `parts` counts differing by at most one (int32)."""
    counts = np.full(parts, total // parts, np.int32)
    counts[:total % parts] += 1
    return counts


def random_graphs(rng: np.random.Generator, n_node: np.ndarray, n_edge: np.ndarray,
                  features: int) -> dict[str, np.ndarray]:
    """Normal features and random edges inside their own graph, for per-graph counts."""
    offsets = np.repeat(np.cumsum(n_node) - n_node, n_edge)
    sizes = np.repeat(n_node, n_edge)
    return {
        "nodes": rng.normal(size=(int(n_node.sum()), features)).astype(np.float32),
        "edges": rng.normal(size=(int(n_edge.sum()), features)).astype(np.float32),
        "globals": rng.normal(size=(len(n_node), features)).astype(np.float32),
        "senders": (offsets + rng.integers(0, sizes)).astype(np.int32),
        "receivers": (offsets + rng.integers(0, sizes)).astype(np.int32),
        "n_node": n_node.astype(np.int32),
        "n_edge": n_edge.astype(np.int32),
    }


def large_workload(sizes: Sizes, seed: int = 0) -> dict[str, np.ndarray]:
    """The big workload: nodes and edges split evenly over the graphs."""
    return random_graphs(np.random.default_rng(seed),
                         split_evenly(sizes.num_nodes, sizes.num_graphs),
                         split_evenly(sizes.num_edges, sizes.num_graphs), sizes.features)


def small_workload(num_graphs: int, features: int, seed: int = 1) -> dict[str, np.ndarray]:
    """The demo regime: `num_graphs` graphs of 8-16 nodes, 4 edges per node."""
    rng = np.random.default_rng(seed)
    n_node = rng.integers(SMALL_MIN_NODES, SMALL_MAX_NODES + 1, num_graphs).astype(np.int32)
    return random_graphs(rng, n_node, n_node * SMALL_EDGES_PER_NODE, features)
