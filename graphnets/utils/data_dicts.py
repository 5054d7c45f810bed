"""graph_nets-style data dicts (one graph each, local node indices) to and from a batch, and
`unbatch`, which splits a batch into single-graph GraphsTuples."""

from collections.abc import Mapping, Sequence
from typing import Any

import jraph
import numpy as np

from graphnets.utils.validation import (
    _as_array,
    _as_count,
    _check_fits_index,
    _checked_rows,
    _first,
    _sequence_of,
    validate,
)

DATA_DICT_KEYS = ("nodes", "edges", "globals", "senders", "receivers", "n_node", "n_edge")


def _local_indices(value: Any, where: str, num_nodes: int) -> np.ndarray:
    """A data dict's senders or receivers as int64, checked to hold in-range node indices."""
    if value is None:
        return np.zeros(0, np.int64)
    indices = _as_array(value, where)
    if indices.size == 0:
        return np.zeros(0, np.int64)
    if not np.issubdtype(indices.dtype, np.integer):
        raise ValueError(f"{where} has dtype {indices.dtype} but must hold integer node indices.")
    if indices.ndim != 1:
        raise ValueError(f"{where} has shape {indices.shape} but must be a vector.")
    out_of_range = (indices < 0) | (indices >= num_nodes)
    if out_of_range.any():
        i = _first(out_of_range)
        raise ValueError(f"{where}[{i}] = {indices[i]} is out of range for {num_nodes} nodes.")
    return indices.astype(np.int64)


def _feature_rows(value: Any, where: str) -> np.ndarray | None:
    """A feature field as a host array with a leading row axis, or None."""
    return None if value is None else _checked_rows(value, where)


def _graph_from_data_dict(d: Any, g: int) -> dict[str, Any]:
    """One data dict's fields, checked, with local indices and row counts (DATA_DICT_KEYS)."""
    where = f"data_dicts[{g}]"
    if not isinstance(d, Mapping):
        raise ValueError(
            f"{where} is a {type(d).__name__} but must be a dict with keys among "
            f"{', '.join(DATA_DICT_KEYS)}."
        )
    unknown = sorted(str(key) for key in d if key not in DATA_DICT_KEYS)
    if unknown:
        raise ValueError(
            f"{where} has unknown key {unknown[0]!r}; the keys are {', '.join(DATA_DICT_KEYS)}."
        )
    if (d.get("senders") is None) != (d.get("receivers") is None):
        given, missing = (
            ("senders", "receivers") if d.get("receivers") is None else ("receivers", "senders")
        )
        raise ValueError(
            f"{where} has {given!r} but no {missing!r}; give both or neither (no edges)."
        )
    nodes = _feature_rows(d.get("nodes"), f"{where}['nodes']")
    edges = _feature_rows(d.get("edges"), f"{where}['edges']")
    globals_ = (
        None
        if d.get("globals") is None
        else _feature_rows(
            _as_array(d["globals"], f"{where}['globals']")[None], f"{where}['globals']"
        )
    )
    n_node = len(nodes) if nodes is not None else 0
    if d.get("n_node") is not None:
        given_n_node = _as_count(d["n_node"], f"{where}['n_node']")
        if nodes is not None and given_n_node != n_node:
            raise ValueError(
                f"{where}['n_node'] is {given_n_node} but {where}['nodes'] has {n_node} rows."
            )
        n_node = given_n_node
    senders = _local_indices(d.get("senders"), f"{where}['senders']", n_node)
    receivers = _local_indices(d.get("receivers"), f"{where}['receivers']", n_node)
    if len(senders) != len(receivers):
        raise ValueError(
            f"{where}['senders'] has {len(senders)} entries but {where}['receivers'] has "
            f"{len(receivers)}."
        )
    n_edge = len(senders)
    if d.get("n_edge") is not None and _as_count(d["n_edge"], f"{where}['n_edge']") != n_edge:
        raise ValueError(
            f"{where}['n_edge'] is {int(d['n_edge'])} but {where}['senders'] has {n_edge} entries."
        )
    if edges is not None and len(edges) != n_edge:
        raise ValueError(
            f"{where}['edges'] has {len(edges)} rows but {where}['senders'] has {n_edge} entries."
        )
    return {
        "nodes": nodes,
        "edges": edges,
        "globals": globals_,
        "senders": senders,
        "receivers": receivers,
        "n_node": n_node,
        "n_edge": n_edge,
    }


def _stack_field(
    graphs: list[dict[str, Any]], field: str, count_key: str | None
) -> np.ndarray | None:
    """Concatenates one optional feature field over graphs.

    None if absent in all graphs; a graph without rows may omit it; any other
    graph missing it, or with rows of another shape, is an error.
    """
    present = [g for g, graph in enumerate(graphs) if graph[field] is not None]
    if not present:
        return None
    template = graphs[present[0]][field]
    arrays = []
    for g, graph in enumerate(graphs):
        value, rows = graph[field], 1 if count_key is None else graph[count_key]
        if value is None and rows > 0:
            raise ValueError(f"data_dicts[{g}] has no {field!r} but data_dicts[{present[0]}] has.")
        if value is not None and value.shape[1:] != template.shape[1:]:
            raise ValueError(
                f"data_dicts[{g}]['{field}'] has rows of shape {value.shape[1:]} but "
                f"data_dicts[{present[0]}]['{field}'] has rows of shape {template.shape[1:]}."
            )
        arrays.append(
            np.zeros((0,) + template.shape[1:], template.dtype) if value is None else value
        )
    return np.concatenate(arrays, axis=0)


def data_dicts_to_graphs_tuple(data_dicts: Sequence[dict[str, Any]]) -> jraph.GraphsTuple:
    """Batches graph_nets-style data dicts (one graph each, local node indices) into a GraphsTuple.

    Keys are those of `DATA_DICT_KEYS`; any other key is an error. Missing
    `n_node` / `n_edge` are inferred from nodes / senders (given ones must
    agree); senders and receivers come together, and missing ones mean no
    edges; globals get a leading graph axis. The result holds numpy arrays
    with int32 indices; features keep their dtype.
    """
    graphs = [
        _graph_from_data_dict(d, g)
        for g, d in enumerate(_sequence_of(data_dicts, "data_dicts", "dicts", Mapping))
    ]
    n_node = np.asarray([graph["n_node"] for graph in graphs], np.int64)
    _check_fits_index(int(n_node.sum()), "the number of nodes of all data_dicts")
    _check_fits_index(
        sum(graph["n_edge"] for graph in graphs), "the number of edges of all data_dicts"
    )
    offsets = np.concatenate([[0], np.cumsum(n_node)[:-1]]).astype(np.int64)
    indices = lambda key: np.concatenate(
        [graph[key] + offset for graph, offset in zip(graphs, offsets)] + [np.zeros(0, np.int64)]
    )
    graph = jraph.GraphsTuple(
        nodes=_stack_field(graphs, "nodes", "n_node"),
        edges=_stack_field(graphs, "edges", "n_edge"),
        globals=_stack_field(graphs, "globals", None),
        senders=indices("senders").astype(np.int32),
        receivers=indices("receivers").astype(np.int32),
        n_node=n_node.astype(np.int32),
        n_edge=np.asarray([graph["n_edge"] for graph in graphs], np.int32),
    )
    validate(graph)
    return graph


def unbatch(graph: jraph.GraphsTuple) -> list[jraph.GraphsTuple]:
    """Splits a validated batch into single-graph GraphsTuples (numpy, local indices)."""
    validate(graph)
    n_node, n_edge = np.asarray(graph.n_node), np.asarray(graph.n_edge)
    node_starts = np.concatenate([[0], np.cumsum(n_node)]).astype(int)
    edge_starts = np.concatenate([[0], np.cumsum(n_edge)]).astype(int)
    senders, receivers = np.asarray(graph.senders), np.asarray(graph.receivers)

    def rows(field: str, rows_slice: slice) -> np.ndarray | None:
        value = getattr(graph, field)
        return None if value is None else np.asarray(value)[rows_slice]

    graphs = []
    for g in range(len(n_node)):
        nodes_slice = slice(node_starts[g], node_starts[g + 1])
        edges_slice = slice(edge_starts[g], edge_starts[g + 1])
        graphs.append(
            jraph.GraphsTuple(
                nodes=rows("nodes", nodes_slice),
                edges=rows("edges", edges_slice),
                globals=rows("globals", slice(g, g + 1)),
                senders=(senders[edges_slice] - node_starts[g]).astype(senders.dtype),
                receivers=(receivers[edges_slice] - node_starts[g]).astype(receivers.dtype),
                n_node=n_node[g : g + 1],
                n_edge=n_edge[g : g + 1],
            )
        )
    return graphs


def graphs_tuple_to_data_dicts(graph: jraph.GraphsTuple) -> list[dict[str, Any]]:
    """Splits a validated batch into graph_nets-style data dicts (globals without graph axis)."""
    dicts = []
    for single in unbatch(graph):
        d = single._asdict()
        d["n_node"], d["n_edge"] = int(single.n_node[0]), int(single.n_edge[0])
        d["globals"] = None if single.globals is None else single.globals[0]
        dicts.append(d)
    return dicts
