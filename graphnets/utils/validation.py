"""Checking graphs: `validate` (values, on the host), `check_shapes` (static shapes, traced
graphs too), `num_node_rows`, and the input checks that the other modules of the package share.

The underscored names are the package's own helpers, imported by its other modules so that every
refusal is worded alike: a ValueError naming the field, the argument or the count.
"""

from collections.abc import Iterable
from typing import Any

import jax
import jraph
import numpy as np

from graphnets.layers import compute_dtype

_MAX_INDEX = np.iinfo(np.int32).max


def _check_fits_index(size: int, name: str) -> None:
    """Refuses a count past int32, the dtype of indices and counts, before it is allocated."""
    if size > _MAX_INDEX:
        raise ValueError(f"{name} is {size} but int32 indices reach at most {_MAX_INDEX}.")


def _first(flags: np.ndarray) -> int:
    """Index of the first True in a boolean vector."""
    return int(np.flatnonzero(flags)[0])


def _is_concrete(graph: jraph.GraphsTuple) -> bool:
    """Whether the graph holds values rather than tracers."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(graph))


def _as_array(value: Any, where: str) -> np.ndarray:
    """`value` as a host array; ragged or otherwise unconvertible values are a ValueError."""
    try:
        return np.asarray(value)
    except (ValueError, TypeError):
        raise ValueError(
            f"{where} is not a rectangular array (rows of different lengths?)."
        ) from None


def _check_feature_dtype(values: np.ndarray, where: str) -> None:
    """Refuses features that are not bool, integer or float (strings, objects, complex)."""
    if not (
        values.dtype == np.bool_
        or np.issubdtype(values.dtype, np.integer)
        or np.issubdtype(values.dtype, np.floating)
    ):
        raise ValueError(
            f"{where} has dtype {values.dtype} but must hold bools, integers or floats."
        )


def _checked_rows(value: Any, where: str) -> np.ndarray:
    """A feature field given, as a host array with a leading row axis."""
    features = _as_array(value, where)
    _check_feature_dtype(features, where)
    if features.ndim == 0:
        raise ValueError(f"{where} has shape () but needs one row per item.")
    return features


def _as_count(value: Any, where: str) -> int:
    """A non-negative Python int from an integer scalar that fits int32 indices; strings,
    floats and bools are refused."""
    if isinstance(value, (bool, np.bool_)) or not (
        isinstance(value, (int, np.integer))
        or (
            isinstance(value, np.ndarray)
            and value.ndim == 0
            and np.issubdtype(value.dtype, np.integer)
        )
    ):
        raise ValueError(
            f"{where} is {value!r} ({type(value).__name__}) but must be a non-negative integer."
        )
    if int(value) < 0:
        raise ValueError(f"{where} is {int(value)} but must be a non-negative integer.")
    _check_fits_index(int(value), where)
    return int(value)


def _sequence_of(items: Any, name: str, item_name: str, single: type) -> list[Any]:
    """`items` as a list, refusing a lone item or a non-iterable in place of a sequence of them."""
    if isinstance(items, (single, str, bytes)) or not isinstance(items, Iterable):
        raise ValueError(
            f"{name} is a {type(items).__name__} but must be a list of {item_name} "
            "(wrap a single one in a list)."
        )
    return list(items)


def _check_graphs_tuple(graph: Any, where: str = "graph") -> None:
    """Refuses anything that is not a jraph.GraphsTuple."""
    if not isinstance(graph, jraph.GraphsTuple):
        raise ValueError(f"{where} is a {type(graph).__name__} but must be a jraph.GraphsTuple.")


def _check_integer(graph: jraph.GraphsTuple, field: str) -> np.ndarray:
    """The index or count field as a host vector, after checking it holds integers."""
    value = getattr(graph, field)
    if value is None:
        raise ValueError(
            f"graph.{field} is None but must be an integer vector (empty for no rows)."
        )
    values = _as_array(value, f"graph.{field}")
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"graph.{field} has dtype {values.dtype} but must hold integers.")
    if values.ndim != 1:
        raise ValueError(f"graph.{field} has shape {values.shape} but must be a vector.")
    return values


def _check_counts(counts: np.ndarray, field: str, rows: int, rows_name: str) -> None:
    """Checks that the non-negative counts in `field` add up to `rows`."""
    negative = counts < 0
    if negative.any():
        raise ValueError(f"graph.{field}[{_first(negative)}] is negative.")
    total = int(counts.sum(dtype=np.int64))
    if total != rows:
        first_over = _first(np.append(np.cumsum(counts, dtype=np.int64) > rows, True))
        raise ValueError(
            f"sum(graph.{field}) is {total} but {rows_name} has {rows} rows "
            f"(first graph past the rows: graph.{field}[{min(first_over, len(counts) - 1)}])."
        )


def _check_indices(
    indices: np.ndarray,
    field: str,
    total_nodes: int,
    edge_graph: np.ndarray,
    node_ends: np.ndarray,
) -> None:
    """Checks that node indices are in range and stay inside their edge's graph (`node_ends`:
    the cumulative node counts, so that no array of one graph id per node is allocated)."""
    out_of_range = (indices < 0) | (indices >= total_nodes)
    if out_of_range.any():
        i = _first(out_of_range)
        raise ValueError(
            f"graph.{field}[{i}] = {indices[i]} is out of range for {total_nodes} nodes."
        )
    node_graph = np.searchsorted(node_ends, indices, side="right")
    crossing = node_graph != edge_graph
    if crossing.any():
        i = _first(crossing)
        raise ValueError(
            f"graph.{field}[{i}] = {indices[i]} is a node of graph {node_graph[i]} "
            f"but edge {i} belongs to graph {edge_graph[i]}."
        )


def _check_features(graph: jraph.GraphsTuple, field: str, rows: int, rows_name: str) -> None:
    """Checks a feature field's dtype, row count and that its values are finite in the dtype
    the modules compute in (`layers.compute_dtype`)."""
    value = getattr(graph, field)
    if value is None:
        return
    values = _as_array(value, f"graph.{field}")
    _check_feature_dtype(values, f"graph.{field}")
    if values.ndim == 0 or values.shape[0] != rows:
        raise ValueError(
            f"graph.{field} has shape {values.shape} but needs {rows} rows ({rows_name})."
        )
    if np.issubdtype(values.dtype, np.floating):
        # Finite in the compute dtype: float64 1e300 would become inf in float32. NaN fails too.
        computed = compute_dtype(values.dtype)
        in_range = np.abs(values) <= np.finfo(computed).max
        bad_rows = ~in_range.all(axis=tuple(range(1, values.ndim)))
        if bad_rows.any():
            raise ValueError(
                f"graph.{field}[{_first(bad_rows)}] has a non-finite value in {computed}, "
                "the dtype the modules compute in."
            )


def validate(graph: jraph.GraphsTuple) -> None:
    """Raises a ValueError naming the field and first offending index of a malformed graph.

    Checks index dtypes and ranges, that senders and receivers match in length,
    that n_node / n_edge add up to the node / edge rows, that globals have one
    row per graph, that no edge crosses graphs, that every count fits int32
    indices (checked before anything of that size is allocated) and that
    features are bool, integer or float arrays whose values are finite in the
    dtype the modules compute in (float64 1e300 is refused unless x64 is on).
    Needs concrete (host or device) arrays, not traced values.
    """
    _check_graphs_tuple(graph)
    if not _is_concrete(graph):
        raise ValueError("validate() got traced values; call it on concrete arrays outside jit.")
    senders = _check_integer(graph, "senders")
    receivers = _check_integer(graph, "receivers")
    n_node = _check_integer(graph, "n_node")
    n_edge = _check_integer(graph, "n_edge")
    if len(senders) != len(receivers):
        raise ValueError(
            f"graph.senders has {len(senders)} entries but graph.receivers has {len(receivers)} "
            f"(first unmatched index {min(len(senders), len(receivers))})."
        )
    if len(n_node) != len(n_edge):
        raise ValueError(
            f"graph.n_node has {len(n_node)} entries but graph.n_edge has {len(n_edge)}; "
            "both need one per graph."
        )
    _check_fits_index(len(n_node), "len(graph.n_node)")
    _check_fits_index(len(senders), "len(graph.senders)")
    for field, counts in (("n_node", n_node), ("n_edge", n_edge)):
        # Each count bounded first, so their int64 sum cannot wrap around.
        past_int32 = counts > _MAX_INDEX
        if past_int32.any():
            i = _first(past_int32)
            _check_fits_index(int(counts[i]), f"graph.{field}[{i}]")
    if graph.nodes is None:
        total_nodes = int(n_node.sum(dtype=np.int64)) if (n_node >= 0).all() else 0
    else:
        nodes_shape = _as_array(graph.nodes, "graph.nodes").shape
        if not nodes_shape:
            raise ValueError("graph.nodes has shape () but needs one row per node.")
        total_nodes = nodes_shape[0]
    # Checked before the sums and repeats below, which count in int64.
    _check_fits_index(
        total_nodes, "the rows of graph.nodes" if graph.nodes is not None else "sum(graph.n_node)"
    )
    _check_counts(
        n_node,
        "n_node",
        total_nodes,
        "graph.nodes" if graph.nodes is not None else "sum(graph.n_node)",
    )
    _check_counts(n_edge, "n_edge", len(senders), "graph.senders")
    node_ends = np.cumsum(n_node, dtype=np.int64)
    edge_graph = np.repeat(np.arange(len(n_edge)), n_edge)  # as long as graph.senders
    _check_indices(senders, "senders", total_nodes, edge_graph, node_ends)
    _check_indices(receivers, "receivers", total_nodes, edge_graph, node_ends)
    _check_features(graph, "nodes", total_nodes, "sum(n_node)")
    _check_features(graph, "edges", len(senders), "one per sender")
    _check_features(graph, "globals", len(n_node), "one per graph")


def num_node_rows(graph: jraph.GraphsTuple) -> int:
    """Static number of node rows: the rows of `graph.nodes`, or sum(n_node) when nodes is None.

    Without node features the count needs concrete `n_node`; under jit give the
    graph node features (zeros of shape (N, 0) will do).
    """
    if graph.nodes is not None:
        return graph.nodes.shape[0]
    if isinstance(graph.n_node, jax.core.Tracer):
        raise ValueError(
            "graph.nodes is None and graph.n_node is traced, so the number of nodes is not known "
            "statically; give the graph node features, e.g. zeros of shape (N, 0)."
        )
    return int(np.sum(np.asarray(graph.n_node), dtype=np.int64))


def check_shapes(graph: jraph.GraphsTuple, where: str = "graph") -> None:
    """Raises a ValueError when the static shapes of a graph disagree (works on traced graphs).

    Checks that senders and receivers are vectors of one length, n_node and
    n_edge vectors of one length, and that edges and globals have one row per
    edge and per graph. Costs nothing at run time: shapes are known when
    tracing.
    """
    _check_graphs_tuple(graph, where)
    for field in ("senders", "receivers", "n_node", "n_edge"):
        if getattr(graph, field) is None or np.ndim(getattr(graph, field)) != 1:
            raise ValueError(
                f"{where}.{field} has shape {np.shape(getattr(graph, field))} but must be a vector."
            )
    num_edges, num_graphs = np.shape(graph.senders)[0], np.shape(graph.n_node)[0]
    expected = {
        "receivers": num_edges,
        "n_edge": num_graphs,
        "edges": num_edges,
        "globals": num_graphs,
    }
    names = {
        "receivers": "graph.senders has",
        "n_edge": "graph.n_node has",
        "edges": "graph.senders has",
        "globals": "graph.n_node has",
    }
    for field, rows in expected.items():
        value = getattr(graph, field)
        if value is not None and (np.ndim(value) == 0 or np.shape(value)[0] != rows):
            raise ValueError(
                f"{where}.{field} has shape {np.shape(value)} but needs {rows} rows "
                f"({names[field]} {rows} entries)."
            )
    if graph.nodes is not None and np.ndim(graph.nodes) == 0:
        raise ValueError(f"{where}.nodes has shape () but needs one row per node.")
