"""Small random graphs and parameter look-ups shared by the graphnets tests."""

import jax
import jraph
import numpy as np


def random_graph(
    rng: np.random.Generator,
    n_node: list[int],
    n_edge: list[int],
    node_size: int = 3,
    edge_size: int = 2,
    global_size: int = 4,
) -> jraph.GraphsTuple:
    """A batch with the given per-graph node and edge counts, random features and in-graph edges."""
    senders, receivers, offset = [], [], 0
    for nodes, edges in zip(n_node, n_edge):
        assert nodes > 0 or edges == 0
        senders.append(rng.integers(0, max(nodes, 1), edges) + offset)
        receivers.append(rng.integers(0, max(nodes, 1), edges) + offset)
        offset += nodes
    total_nodes, total_edges = sum(n_node), sum(n_edge)
    return jraph.GraphsTuple(
        nodes=rng.normal(size=(total_nodes, node_size)).astype(np.float32),
        edges=rng.normal(size=(total_edges, edge_size)).astype(np.float32),
        globals=rng.normal(size=(len(n_node), global_size)).astype(np.float32),
        senders=np.concatenate(senders).astype(np.int32),
        receivers=np.concatenate(receivers).astype(np.int32),
        n_node=np.asarray(n_node, np.int32),
        n_edge=np.asarray(n_edge, np.int32),
    )


def module_params(params: dict, fragment: str) -> dict:
    """The single Haiku module entry whose name contains `fragment`."""
    matches = [name for name in params if fragment in name]
    assert len(matches) == 1, (fragment, list(params))
    return params[matches[0]]


def all_finite(tree) -> bool:
    """Whether every leaf of a pytree is finite."""
    return all(np.all(np.isfinite(leaf)) for leaf in jax.tree_util.tree_leaves(tree))


def assert_graphs_equal(a: jraph.GraphsTuple, b: jraph.GraphsTuple) -> None:
    """Asserts that two graphs have the same fields present, with equal values."""
    for field in jraph.GraphsTuple._fields:
        x, y = getattr(a, field), getattr(b, field)
        assert (x is None) == (y is None), field
        if x is not None:
            np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=field)
