"""Shortest-path graphs: geographic threshold graphs joined by a minimum spanning tree.

Each graph has `n` nodes at uniform positions in the unit square with exponential weights.
Nodes `i` and `j` are joined when `(w_i + w_j) / d_ij**2 >= theta` (networkx's geographic
threshold rule), and the Euclidean minimum spanning tree is added so the graph is connected.
A start and end node are drawn so that every shortest-path length in hops is equally likely;
the target marks the nodes and the (start-to-end directed) edges on the shortest path by
distance.

Features (every undirected edge appears once in each direction):
  inputs.nodes  [x, y, weight, is_start, is_end]     inputs.edges [distance]
  targets.nodes one-hot [off path, on path]          targets.edges one-hot [off path, on path]
  globals       a single zero per graph (the task has no graph-level quantity).
"""

from __future__ import annotations

from typing import NamedTuple

import jraph
import numpy as np

THETA = 20.0
NODE_INPUT_SIZE = 5
EDGE_INPUT_SIZE = 1


class GeoGraph(NamedTuple):
    """An undirected geographic graph: node positions, node weights and an adjacency matrix."""

    positions: np.ndarray  # [n, 2]
    weights: np.ndarray  # [n]
    adjacency: np.ndarray  # [n, n] bool, symmetric, no self-loops


def pairwise_distances(positions: np.ndarray) -> np.ndarray:
    """Euclidean distance matrix of `positions` [n, d]."""
    return np.linalg.norm(positions[:, None, :] - positions[None, :, :], axis=-1)


def threshold_adjacency(positions: np.ndarray, weights: np.ndarray, theta: float) -> np.ndarray:
    """Geographic threshold rule: join i != j when (w_i + w_j) / d_ij**2 >= theta."""
    squared = pairwise_distances(positions) ** 2
    np.fill_diagonal(squared, np.inf)
    return (weights[:, None] + weights[None, :]) >= theta * squared


def minimum_spanning_tree(distances: np.ndarray) -> np.ndarray:
    """Symmetric boolean adjacency of the minimum spanning tree of a complete graph (Prim)."""
    n = len(distances)
    tree = np.zeros((n, n), dtype=bool)
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    best, parent = distances[0].copy(), np.zeros(n, dtype=np.int64)
    for _ in range(n - 1):
        j = int(np.argmin(np.where(in_tree, np.inf, best)))
        tree[j, parent[j]] = tree[parent[j], j] = True
        in_tree[j] = True
        closer = distances[j] < best
        best, parent = np.where(closer, distances[j], best), np.where(closer, j, parent)
    return tree


def all_pairs_shortest_paths(lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Floyd-Warshall on edge `lengths` [n, n] (inf where there is no edge).

    Returns the distance matrix and the next-hop matrix (`next_hop[i, j]` is the node after `i`
    on a shortest path to `j`; -1 where `j` cannot be reached).
    """
    n = len(lengths)
    distance = lengths.astype(np.float64)
    np.fill_diagonal(distance, 0.0)
    next_hop = np.where(np.isfinite(distance), np.arange(n)[None, :], -1)
    for k in range(n):
        via = distance[:, k:k + 1] + distance[k:k + 1, :]
        shorter = via < distance
        distance = np.where(shorter, via, distance)
        next_hop = np.where(shorter, next_hop[:, k:k + 1], next_hop)
    return distance, next_hop


def sample_geo_graph(rng: np.random.Generator, num_nodes: int, theta: float = THETA,
                     rate: float = 1.0) -> GeoGraph:
    """Samples a connected geographic threshold graph joined with its minimum spanning tree."""
    positions = rng.uniform(size=(num_nodes, 2))
    weights = rng.exponential(1.0 / rate, size=num_nodes)
    adjacency = threshold_adjacency(positions, weights, theta)
    adjacency |= minimum_spanning_tree(pairwise_distances(positions))
    return GeoGraph(positions, weights, adjacency)


def sample_endpoints(rng: np.random.Generator, adjacency: np.ndarray) -> tuple[int, int]:
    """Draws (start, end), start != end, with every hop-count path length equally likely."""
    hops, _ = all_pairs_shortest_paths(np.where(adjacency, 1.0, np.inf))
    length = rng.choice(np.unique(hops[(hops > 0) & np.isfinite(hops)]))
    starts, ends = np.nonzero(hops == length)
    pick = rng.integers(len(starts))
    return int(starts[pick]), int(ends[pick])


def shortest_path(adjacency: np.ndarray, distances: np.ndarray, start: int, end: int) -> list[int]:
    """Nodes of the shortest path from `start` to `end`, edges weighted by `distances`."""
    _, next_hop = all_pairs_shortest_paths(np.where(adjacency, distances, np.inf))
    path = [start]
    while path[-1] != end:
        path.append(int(next_hop[path[-1], end]))
    return path


def to_graphs_tuple(graph: GeoGraph, start: int, end: int,
                    path: list[int]) -> tuple[jraph.GraphsTuple, jraph.GraphsTuple]:
    """Feature and target `GraphsTuple`s of one graph with a marked path."""
    n = len(graph.weights)
    senders, receivers = np.nonzero(graph.adjacency)
    distances = np.linalg.norm(graph.positions[senders] - graph.positions[receivers], axis=-1)
    flags = np.zeros((n, 2))
    flags[start, 0] = flags[end, 1] = 1.0
    nodes = np.concatenate([graph.positions, graph.weights[:, None], flags], axis=1)
    on_path_nodes = np.zeros(n, dtype=bool)
    on_path_nodes[path] = True
    path_edges = set(zip(path[:-1], path[1:]))
    on_path_edges = np.array([(s, r) in path_edges for s, r in zip(senders, receivers)], bool)
    common = dict(senders=senders.astype(np.int32), receivers=receivers.astype(np.int32),
                  n_node=np.array([n], np.int32), n_edge=np.array([len(senders)], np.int32),
                  globals=np.zeros((1, 1), np.float32))
    inputs = jraph.GraphsTuple(nodes=nodes.astype(np.float32),
                               edges=distances[:, None].astype(np.float32), **common)
    targets = jraph.GraphsTuple(nodes=one_hot(on_path_nodes), edges=one_hot(on_path_edges),
                                **common)
    return inputs, targets


def one_hot(flags: np.ndarray) -> np.ndarray:
    """Two-class float32 one-hot encoding [not flag, flag] of a boolean array."""
    return np.stack([~flags, flags], axis=-1).astype(np.float32)


def sample_graph(rng: np.random.Generator, num_nodes: int,
                 theta: float = THETA) -> tuple[jraph.GraphsTuple, jraph.GraphsTuple]:
    """Samples one shortest-path problem with `num_nodes` nodes: (inputs, targets)."""
    graph = sample_geo_graph(rng, num_nodes, theta)
    start, end = sample_endpoints(rng, graph.adjacency)
    path = shortest_path(graph.adjacency, pairwise_distances(graph.positions), start, end)
    return to_graphs_tuple(graph, start, end, path)


def sample_batch(rng: np.random.Generator, batch_size: int, min_nodes: int, max_nodes: int,
                 theta: float = THETA) -> tuple[jraph.GraphsTuple, jraph.GraphsTuple]:
    """Samples `batch_size` problems with node counts uniform in [min_nodes, max_nodes]."""
    pairs = [sample_graph(rng, int(rng.integers(min_nodes, max_nodes + 1)), theta)
             for _ in range(batch_size)]
    return jraph.batch_np([p[0] for p in pairs]), jraph.batch_np([p[1] for p in pairs])
