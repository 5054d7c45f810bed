"""Building, converting, batching, padding and validating `jraph.GraphsTuple`s.

Conventions (those of graph_nets and jraph): a GraphsTuple is a batch of
graphs stored back to back; `n_node[g]` and `n_edge[g]` count graph g's rows;
`senders` and `receivers` index node rows of the whole batch; an edge and its
two nodes belong to the same graph. Data dicts (graph_nets' `data_dicts`) hold
one graph each, with node indices local to that graph. Empty graphs, graphs
without edges (`edges` of shape `(0, k)` or None) and single nodes are valid
everywhere.

Features may be bool, integer or float arrays. They keep their dtype here; the
modules compute in jax's dtype for them, so float64 features are computed in
float32 unless `jax_enable_x64` is on (integer and bool features in float32).

Only host arrays can be checked: compiled (jitted) code sees shapes, not
values, so validate graphs at the data boundary with `validate`. The
conversions here and `pad_to` (when given concrete arrays) do it for you, and
every refusal is a `ValueError` naming the field. Sizes (node, edge and graph
counts, padding budgets) must fit int32, the index dtype; every public function
refuses larger ones by name before allocating anything of that size.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import networkx as nx
import numpy as np

from graphnets.layers import compute_dtype

FEATURE_FIELDS = ("nodes", "edges", "globals")
DATA_DICT_KEYS = ("nodes", "edges", "globals", "senders", "receivers", "n_node", "n_edge")
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


def _checked_rows(value: Any, where: str) -> np.ndarray:
    """A feature field given, as a host array with a leading row axis."""
    features = _as_array(value, where)
    _check_feature_dtype(features, where)
    if features.ndim == 0:
        raise ValueError(f"{where} has shape () but needs one row per item.")
    return features


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


def _sequence_of(items: Any, name: str, item_name: str, single: type) -> list[Any]:
    """`items` as a list, refusing a lone item or a non-iterable in place of a sequence of them."""
    if isinstance(items, (single, str, bytes)) or not isinstance(items, Iterable):
        raise ValueError(
            f"{name} is a {type(items).__name__} but must be a list of {item_name} "
            "(wrap a single one in a list)."
        )
    return list(items)


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


def _sorted_nodes(graph: nx.Graph, where: str) -> list[Any]:
    """The graph's node ids in sorted order; ids that cannot be compared are an error."""
    try:
        return sorted(graph.nodes)
    except TypeError:
        raise ValueError(
            f"{where} has node ids that cannot be sorted (mixed types such as 1 and 'a'?); "
            "relabel them, e.g. with networkx.convert_node_labels_to_integers."
        ) from None


def _features_or_none(features: list[Any], names: list[Any], where: str) -> np.ndarray | None:
    """Stacked per-item features, or None when no item has any (an empty graph gives None too)."""
    if all(f is None for f in features):
        return None
    if any(f is None for f in features):
        raise ValueError(
            f"{where} {names[[f is None for f in features].index(True)]!r} has no features "
            "but others do."
        )
    arrays = [
        _checked_rows(np.asarray(f)[None], f"{where} {name!r} features")
        for f, name in zip(features, names)
    ]
    shapes = [a.shape[1:] for a in arrays]
    if any(shape != shapes[0] for shape in shapes):
        i = [shape != shapes[0] for shape in shapes].index(True)
        raise ValueError(
            f"{where} {names[i]!r} has features of shape {shapes[i]} but {names[0]!r} "
            f"has {shapes[0]}."
        )
    return np.concatenate(arrays)


def networkxs_to_graphs_tuple(
    graphs: Sequence[nx.Graph],
    node_key: str = "features",
    edge_key: str = "features",
    global_key: str = "features",
) -> jraph.GraphsTuple:
    """Batches networkx graphs into a validated GraphsTuple.

    Nodes are taken in sorted order of their ids (which must be comparable);
    features are read from the `node_key` / `edge_key` attributes and
    `graph.graph[global_key]` (a field absent everywhere becomes None).
    Undirected graphs give one edge per networkx edge, in networkx's
    orientation.
    """
    data_dicts = []
    for g, graph in enumerate(_sequence_of(graphs, "graphs", "networkx graphs", nx.Graph)):
        if not isinstance(graph, nx.Graph):
            raise ValueError(
                f"graphs[{g}] is a {type(graph).__name__} but must be a networkx graph."
            )
        order = _sorted_nodes(graph, f"graphs[{g}]")
        position = {node: i for i, node in enumerate(order)}
        edge_list = list(graph.edges(data=True))
        data_dicts.append(
            {
                "nodes": _features_or_none(
                    [graph.nodes[n].get(node_key) for n in order], order, f"graphs[{g}] node"
                ),
                "edges": _features_or_none(
                    [data.get(edge_key) for _, _, data in edge_list],
                    [(s, r) for s, r, _ in edge_list],
                    f"graphs[{g}] edge",
                ),
                "globals": graph.graph.get(global_key),
                "senders": np.asarray([position[s] for s, _, _ in edge_list], np.int64),
                "receivers": np.asarray([position[r] for _, r, _ in edge_list], np.int64),
                "n_node": len(order),
            }
        )
    return data_dicts_to_graphs_tuple(data_dicts)


def graphs_tuple_to_networkxs(
    graph: jraph.GraphsTuple, key: str = "features"
) -> list[nx.MultiDiGraph]:
    """Splits a validated batch into networkx MultiDiGraphs, features under `key`."""
    result = []
    for single in unbatch(graph):
        nx_graph = nx.MultiDiGraph()
        if single.globals is not None:
            nx_graph.graph[key] = single.globals[0]
        for i in range(int(single.n_node[0])):
            nx_graph.add_node(i, **({} if single.nodes is None else {key: single.nodes[i]}))
        for k, (s, r) in enumerate(zip(single.senders, single.receivers)):
            nx_graph.add_edge(
                int(s), int(r), **({} if single.edges is None else {key: single.edges[k]})
            )
        result.append(nx_graph)
    return result


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


def _pad_rows(values: Any, rows: int, xp: Any, fill: int = 0) -> Any:
    """`values` with `rows` rows of `fill` appended."""
    if values is None:
        return None
    padding = [(0, rows)] + [(0, 0)] * (values.ndim - 1)
    return xp.pad(values, padding, constant_values=fill)


def pad_to(
    graph: jraph.GraphsTuple, num_nodes: int, num_edges: int, num_graphs: int
) -> jraph.GraphsTuple:
    """Pads a batch to exactly `num_nodes` nodes, `num_edges` edges and `num_graphs` graphs.

    Padding is appended after the real graphs: the first padding graph holds all
    padding nodes and edges (edges from and to its first node), further padding
    graphs are empty; padded features are zeros. Because padding lives in its
    own graphs, it never enters the reductions of real nodes or graphs, so
    real outputs do not change. Needs at least one padding graph, and a padding
    node whenever edges are padded. With exactly one padding graph the layout
    is jraph's (`jraph.pad_with_graphs`), so jraph's padding masks apply too,
    and so do `graph_mask` / `node_mask` / `edge_mask` without
    `num_real_graphs`; with more, pass them `num_real_graphs`.

    Jittable (works on traced arrays; sizes are static). Concrete inputs are
    validated first; traced ones cannot be, so validate at the data boundary.
    Numpy input gives numpy output.
    """
    num_nodes, num_edges = _as_count(num_nodes, "num_nodes"), _as_count(num_edges, "num_edges")
    num_graphs = _as_count(num_graphs, "num_graphs")
    if _is_concrete(graph):
        validate(graph)
    else:
        check_shapes(graph)
    real_nodes, real_edges, real_graphs = (
        num_node_rows(graph),
        graph.senders.shape[0],
        graph.n_node.shape[0],
    )
    extra_nodes, extra_edges, extra_graphs = (
        num_nodes - real_nodes,
        num_edges - real_edges,
        num_graphs - real_graphs,
    )
    if extra_nodes < 0 or extra_edges < 0 or extra_graphs < 1:
        raise ValueError(
            f"Cannot pad {real_nodes} nodes, {real_edges} edges, {real_graphs} graphs to "
            f"{num_nodes}, {num_edges}, {num_graphs}: sizes may not shrink and one padding graph "
            "is needed."
        )
    if extra_edges > 0 and extra_nodes == 0:
        raise ValueError(
            f"Padding edges needs a padding node but num_nodes equals the {real_nodes} real nodes."
        )
    xp = (
        np
        if all(isinstance(leaf, np.ndarray) for leaf in jax.tree_util.tree_leaves(graph))
        else jnp
    )
    counts_dtype = graph.n_node.dtype
    padding_counts = lambda extra: xp.asarray([extra] + [0] * (extra_graphs - 1), counts_dtype)
    return jraph.GraphsTuple(
        nodes=_pad_rows(graph.nodes, extra_nodes, xp),
        edges=_pad_rows(graph.edges, extra_edges, xp),
        globals=_pad_rows(graph.globals, extra_graphs, xp),
        senders=_pad_rows(graph.senders, extra_edges, xp, fill=real_nodes),
        receivers=_pad_rows(graph.receivers, extra_edges, xp, fill=real_nodes),
        n_node=xp.concatenate([graph.n_node, padding_counts(extra_nodes)]),
        n_edge=xp.concatenate([graph.n_edge.astype(counts_dtype), padding_counts(extra_edges)]),
    )


def _check_last_graph_is_padding(graph: jraph.GraphsTuple) -> None:
    """Refuses a concrete batch whose last graph has an edge other than a loop on its first node."""
    n_edge, senders, receivers = (
        np.asarray(x) for x in (graph.n_edge, graph.senders, graph.receivers)
    )
    first_node = int(np.sum(np.asarray(graph.n_node)[:-1], dtype=np.int64))
    last_edges = slice(len(senders) - int(n_edge[-1]), len(senders))
    if ((senders[last_edges] != first_node) | (receivers[last_edges] != first_node)).any():
        raise ValueError(
            f"num_real_graphs is None, which takes the last of the {len(n_edge)} graphs as "
            "padding, but it has edges that pad_to's padding cannot have (the graph is not "
            "padded?); pass num_real_graphs, the number of real graphs."
        )


def graph_mask(
    graph: jraph.GraphsTuple, num_real_graphs: int | jax.Array | None = None
) -> jax.Array:
    """True for the real graphs of a padded batch, False for padding graphs.

    The real graphs are the first `num_real_graphs`. Without it (None) the last
    graph is taken to be padding and all others real: the layout of `pad_to`
    with `num_graphs` one more than the real graphs, and jraph's convention.
    Pass `num_real_graphs` for any other batch (an unpadded one, or `pad_to`
    with several padding graphs as `pad_to_bucket` makes). None is refused for
    a batch of fewer than two graphs, and, on concrete graphs, when the last
    graph has an edge that does not join its first node to itself (pad_to's
    padding edges do). Jittable; `num_real_graphs` may be traced.
    """
    total_graphs = graph.n_node.shape[0]
    if num_real_graphs is None:
        if total_graphs < 2:
            raise ValueError(
                f"num_real_graphs is None, which takes the last graph as padding, but the batch "
                f"has {total_graphs} graph(s); pass num_real_graphs, the number of real graphs."
            )
        if _is_concrete(graph):
            _check_last_graph_is_padding(graph)
        num_real_graphs = total_graphs - 1
    elif not isinstance(num_real_graphs, jax.core.Tracer):
        value = np.asarray(num_real_graphs)
        if (
            value.ndim != 0
            or not np.issubdtype(value.dtype, np.integer)
            or not 0 <= value <= total_graphs
        ):
            raise ValueError(
                f"num_real_graphs is {num_real_graphs!r} but must be an integer from 0 to the "
                f"{total_graphs} graphs of the batch."
            )
    return jnp.arange(total_graphs) < num_real_graphs


def node_mask(
    graph: jraph.GraphsTuple, num_real_graphs: int | jax.Array | None = None
) -> jax.Array:
    """True for the nodes of the real graphs of a padded batch (default: see `graph_mask`)."""
    total_nodes = num_node_rows(graph)
    return jnp.repeat(
        graph_mask(graph, num_real_graphs), graph.n_node, total_repeat_length=total_nodes
    )


def edge_mask(
    graph: jraph.GraphsTuple, num_real_graphs: int | jax.Array | None = None
) -> jax.Array:
    """True for the edges of the real graphs of a padded batch (default: see `graph_mask`)."""
    total_edges = graph.senders.shape[0]
    return jnp.repeat(
        graph_mask(graph, num_real_graphs), graph.n_edge, total_repeat_length=total_edges
    )


def next_power_of_two(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 << max(int(n) - 1, 0).bit_length()


def bucket_sizes(graph: jraph.GraphsTuple) -> tuple[int, int, int]:
    """(num_nodes, num_edges, num_graphs) budgets: the next powers of two that fit the padding.

    Batches of similar size share a bucket, so a stream of varying batches
    compiles O(log(max size)) times instead of once per shape.
    """
    check_shapes(graph)
    real_nodes, real_edges, real_graphs = (
        num_node_rows(graph),
        graph.senders.shape[0],
        graph.n_node.shape[0],
    )
    return (
        next_power_of_two(real_nodes + 1),
        next_power_of_two(real_edges),
        next_power_of_two(real_graphs + 1),
    )


def pad_to_bucket(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """`pad_to(graph, *bucket_sizes(graph))`.

    It may add several padding graphs, so pass the masks `num_real_graphs`.
    """
    return pad_to(graph, *bucket_sizes(graph))
