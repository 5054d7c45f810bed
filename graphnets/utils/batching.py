"""Joining graphs and filling them out: `concat` / `batch` join graphs or their features,
`fully_connect_graph` makes every ordered pair of nodes an edge, `with_default_fields` fills
missing feature fields with zeros."""

from collections.abc import Sequence
from typing import Any

import jax.numpy as jnp
import jraph
import numpy as np

from graphnets.layers import compute_dtype
from graphnets.utils.validation import (
    _check_fits_index,
    _sequence_of,
    check_shapes,
    num_node_rows,
    validate,
)

FEATURE_FIELDS = ("nodes", "edges", "globals")


def _concat_optional(values: list[Any], axis: int, field: str) -> Any:
    """jnp-concatenates a field present in all graphs; None if absent in all."""
    present = [v is not None for v in values]
    if not any(present):
        return None
    if not all(present):
        raise ValueError(
            f"graphs[{present.index(False)}].{field} is None but graphs[{present.index(True)}]"
            f".{field} is not; give every graph the field or none."
        )
    shapes = [np.shape(v) for v in values]
    kept = lambda shape: (
        shape[1:] if axis == 0 else shape[: axis % len(shape)] + shape[axis % len(shape) + 1 :]
    )
    for g, shape in enumerate(shapes):
        if len(shape) != len(shapes[0]) or kept(shape) != kept(shapes[0]):
            what = "rows" if axis == 0 else f"shape outside axis {axis}"
            raise ValueError(
                f"graphs[{g}].{field} has shape {shape} but graphs[0].{field} has "
                f"{shapes[0]}; their {what} must match."
            )
    return jnp.concatenate(values, axis=axis)


def concat(graphs: Sequence[jraph.GraphsTuple], axis: int = 0) -> jraph.GraphsTuple:
    """Concatenates graphs: axis 0 batches them; any other axis joins their features.

    Batching offsets senders and receivers by the node rows before them; joining
    features needs graphs of identical structure and keeps the first one's
    indices. Jittable (offsets come from static shapes).
    """
    graphs = _sequence_of(graphs, "graphs", "jraph.GraphsTuples", jraph.GraphsTuple)
    if not graphs:
        raise ValueError("graphs is empty but concat() needs at least one graph.")
    for g, graph in enumerate(graphs):
        check_shapes(graph, f"graphs[{g}]")
    if axis != 0:
        for field in ("senders", "n_node"):
            shapes = [np.shape(getattr(g, field)) for g in graphs]
            if any(shape != shapes[0] for shape in shapes):
                raise ValueError(
                    f"graphs.{field} have shapes {shapes}; joining features (axis={axis}) "
                    "needs graphs of one structure."
                )
        return graphs[0]._replace(
            **{
                field: _concat_optional([getattr(g, field) for g in graphs], axis, field)
                for field in FEATURE_FIELDS
            }
        )
    rows = [num_node_rows(g) for g in graphs]
    _check_fits_index(sum(rows), "the number of nodes of all graphs")
    _check_fits_index(sum(g.senders.shape[0] for g in graphs), "the number of edges of all graphs")
    _check_fits_index(sum(g.n_node.shape[0] for g in graphs), "the number of graphs")
    offsets = np.cumsum([0] + rows[:-1])
    return jraph.GraphsTuple(
        nodes=_concat_optional([g.nodes for g in graphs], 0, "nodes"),
        edges=_concat_optional([g.edges for g in graphs], 0, "edges"),
        globals=_concat_optional([g.globals for g in graphs], 0, "globals"),
        senders=jnp.concatenate([g.senders + int(o) for g, o in zip(graphs, offsets)]),
        receivers=jnp.concatenate([g.receivers + int(o) for g, o in zip(graphs, offsets)]),
        n_node=jnp.concatenate([g.n_node for g in graphs]),
        n_edge=jnp.concatenate([g.n_edge for g in graphs]),
    )


def batch(graphs: Sequence[jraph.GraphsTuple]) -> jraph.GraphsTuple:
    """Joins a list of graphs (or batches) into one batch; `concat(graphs, axis=0)`."""
    return concat(graphs, axis=0)


def fully_connect_graph(
    graph: jraph.GraphsTuple, exclude_self_edges: bool = False
) -> jraph.GraphsTuple:
    """`graph` with every ordered pair of nodes of each graph as an edge (edges set to None).

    Edges are sender-major within each graph. Host-side: needs a concrete, valid graph.
    """
    validate(graph)
    n_node = np.asarray(graph.n_node, np.int64)
    pairs = n_node**2
    _check_fits_index(
        int(pairs.sum() - (n_node.sum() if exclude_self_edges else 0)),
        "the number of edges of the fully connected graph",
    )
    # Pair k of a graph with n nodes joins local nodes (k // n, k % n): sender-major.
    pair_graph = np.repeat(np.arange(len(n_node)), pairs)
    first_pair = np.cumsum(pairs) - pairs
    first_node = np.cumsum(n_node) - n_node
    local_senders, local_receivers = np.divmod(
        np.arange(int(pairs.sum())) - first_pair[pair_graph], n_node[pair_graph]
    )
    keep = local_senders != local_receivers if exclude_self_edges else slice(None)
    offsets = first_node[pair_graph]
    senders, receivers = (local_senders + offsets)[keep], (local_receivers + offsets)[keep]
    n_edge = pairs - n_node if exclude_self_edges else pairs
    result = graph._replace(
        edges=None,
        senders=senders.astype(np.int32),
        receivers=receivers.astype(np.int32),
        n_edge=n_edge.astype(np.int32),
    )
    validate(result)
    return result


def with_default_fields(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """`graph` with each missing feature field (None) replaced by one zero feature per row.

    The fix for a module whose `use_*` switches need a field the graph lacks
    (a node-only graph in a `GraphNetwork`, say): the zeros carry no
    information, so the model behaves as if the field were switched off, up to
    a bias. The zeros take the dtype of the first present field (float32 if
    none). Jittable when the graph has nodes (or concrete n_node).
    """
    check_shapes(graph)
    present = [
        getattr(graph, field) for field in FEATURE_FIELDS if getattr(graph, field) is not None
    ]
    dtype = compute_dtype(present[0].dtype) if present else jnp.float32
    rows = {
        "nodes": lambda: num_node_rows(graph),
        "edges": lambda: graph.senders.shape[0],
        "globals": lambda: graph.n_node.shape[0],
    }
    return graph._replace(
        **{
            field: jnp.zeros((rows[field](), 1), dtype)
            for field in FEATURE_FIELDS
            if getattr(graph, field) is None
        }
    )
