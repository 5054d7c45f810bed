"""Sorting as graph labelling: a list of U(0, 1) numbers as a fully connected graph.

Every ordered pair of elements (self-pairs included) is an edge. The targets mark the first
(smallest) element, and for every element the edge from it to its successor in sorted order;
the largest element's successor is itself, so every node has exactly one marked outgoing edge.

Features:
  inputs.nodes  [value]                          inputs.edges [0]   globals [0]
  targets.nodes one-hot [not first, first]       targets.edges one-hot [not next, next]
"""

from __future__ import annotations

import jraph
import numpy as np

from graphnets.datasets.shortest_path import one_hot

NODE_INPUT_SIZE = 1
EDGE_INPUT_SIZE = 1


def successor_indices(values: np.ndarray) -> np.ndarray:
    """For each element, the index of the next larger element (the largest maps to itself)."""
    order = np.argsort(values, kind="stable")
    successors = np.empty(len(values), dtype=np.int64)
    successors[order[:-1]] = order[1:]
    successors[order[-1]] = order[-1]
    return successors


def list_to_graphs(values: np.ndarray) -> tuple[jraph.GraphsTuple, jraph.GraphsTuple]:
    """Feature and target `GraphsTuple`s of one list of distinct values."""
    n = len(values)
    senders, receivers = np.divmod(np.arange(n * n), n)
    is_next = successor_indices(values)[senders] == receivers
    is_first = np.arange(n) == np.argmin(values)
    common = dict(senders=senders.astype(np.int32), receivers=receivers.astype(np.int32),
                  n_node=np.array([n], np.int32), n_edge=np.array([n * n], np.int32),
                  globals=np.zeros((1, 1), np.float32))
    inputs = jraph.GraphsTuple(nodes=values[:, None].astype(np.float32),
                               edges=np.zeros((n * n, 1), np.float32), **common)
    targets = jraph.GraphsTuple(nodes=one_hot(is_first), edges=one_hot(is_next), **common)
    return inputs, targets


def sample_graph(rng: np.random.Generator,
                 num_elements: int) -> tuple[jraph.GraphsTuple, jraph.GraphsTuple]:
    """Samples one list of `num_elements` U(0, 1) numbers: (inputs, targets)."""
    return list_to_graphs(rng.uniform(size=num_elements))


def sample_batch(rng: np.random.Generator, batch_size: int, min_elements: int,
                 max_elements: int) -> tuple[jraph.GraphsTuple, jraph.GraphsTuple]:
    """Samples `batch_size` lists with lengths uniform in [min_elements, max_elements]."""
    pairs = [sample_graph(rng, int(rng.integers(min_elements, max_elements + 1)))
             for _ in range(batch_size)]
    return jraph.batch_np([p[0] for p in pairs]), jraph.batch_np([p[1] for p in pairs])
