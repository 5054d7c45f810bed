"""Building, converting, batching, padding and validating `jraph.GraphsTuple`s.

Conventions (those of graph_nets and jraph): a GraphsTuple is a batch of
graphs stored back to back; `n_node[g]` and `n_edge[g]` count graph g's rows;
`senders` and `receivers` index node rows of the whole batch; an edge and its
two nodes belong to the same graph. Data dicts (graph_nets' `data_dicts`) hold
one graph each, with node indices local to that graph.

Only host arrays can be checked: compiled (jitted) code sees shapes, not
values, so validate graphs at the data boundary with `validate`. The
conversions here and `pad_to` (when given concrete arrays) do it for you.
"""

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import networkx as nx
import numpy as np

FEATURE_FIELDS = ("nodes", "edges", "globals")


def _first(flags: np.ndarray) -> int:
    """Index of the first True in a boolean vector."""
    return int(np.flatnonzero(flags)[0])


def _check_integer(graph: jraph.GraphsTuple, field: str) -> np.ndarray:
    """The field as a host array, after checking its dtype is integer."""
    values = np.asarray(getattr(graph, field))
    if not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"graph.{field} has dtype {values.dtype} but must hold integers (first entry is graph.{field}[0]).")
    if values.ndim != 1:
        raise ValueError(f"graph.{field} has shape {values.shape} but must be a vector.")
    return values


def _check_counts(counts: np.ndarray, field: str, rows: int, rows_name: str) -> None:
    """Checks that the non-negative counts in `field` add up to `rows`."""
    negative = counts < 0
    if negative.any():
        raise ValueError(f"graph.{field}[{_first(negative)}] is negative.")
    if counts.sum() != rows:
        first_over = _first(np.append(np.cumsum(counts) > rows, True))
        raise ValueError(f"sum(graph.{field}) is {counts.sum()} but {rows_name} has {rows} rows "
                         f"(first graph past the rows: graph.{field}[{min(first_over, len(counts) - 1)}]).")


def _check_indices(indices: np.ndarray, field: str, total_nodes: int, edge_graph: np.ndarray,
                   node_graph: np.ndarray) -> None:
    """Checks that node indices are in range and stay inside their edge's graph."""
    out_of_range = (indices < 0) | (indices >= total_nodes)
    if out_of_range.any():
        i = _first(out_of_range)
        raise ValueError(f"graph.{field}[{i}] = {indices[i]} is out of range for {total_nodes} nodes.")
    crossing = node_graph[indices] != edge_graph
    if crossing.any():
        i = _first(crossing)
        raise ValueError(f"graph.{field}[{i}] = {indices[i]} is a node of graph {node_graph[indices[i]]} "
                         f"but edge {i} belongs to graph {edge_graph[i]}.")


def _check_features(graph: jraph.GraphsTuple, field: str, rows: int, rows_name: str) -> None:
    """Checks a feature field's row count and that its values are finite."""
    values = getattr(graph, field)
    if values is None:
        return
    values = np.asarray(values)
    if values.ndim == 0 or values.shape[0] != rows:
        raise ValueError(f"graph.{field} has shape {values.shape} but needs {rows} rows ({rows_name}).")
    if np.issubdtype(values.dtype, np.inexact):
        bad_rows = ~np.isfinite(values.reshape(rows, -1)).all(axis=1)
        if bad_rows.any():
            raise ValueError(f"graph.{field}[{_first(bad_rows)}] has a non-finite value.")


def validate(graph: jraph.GraphsTuple) -> None:
    """Raises a ValueError naming the field and first offending index of a malformed graph.

    Checks index dtypes and ranges, that senders and receivers match in length,
    that n_node / n_edge add up to the node / edge rows, that globals have one
    row per graph, that no edge crosses graphs and that features are finite.
    Needs concrete (host or device) arrays, not traced values.
    """
    if any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(graph)):
        raise ValueError("validate() got traced values; call it on concrete arrays outside jit.")
    senders = _check_integer(graph, "senders")
    receivers = _check_integer(graph, "receivers")
    n_node = _check_integer(graph, "n_node")
    n_edge = _check_integer(graph, "n_edge")
    if len(senders) != len(receivers):
        raise ValueError(f"graph.senders has {len(senders)} entries but graph.receivers has {len(receivers)} "
                         f"(first unmatched index {min(len(senders), len(receivers))}).")
    total_nodes = int(n_node.sum()) if graph.nodes is None else np.shape(graph.nodes)[0]
    _check_counts(n_node, "n_node", total_nodes, "graph.nodes")
    _check_counts(n_edge, "n_edge", len(senders), "graph.senders")
    node_graph = np.repeat(np.arange(len(n_node)), n_node)
    edge_graph = np.repeat(np.arange(len(n_edge)), n_edge)
    _check_indices(senders, "senders", total_nodes, edge_graph, node_graph)
    _check_indices(receivers, "receivers", total_nodes, edge_graph, node_graph)
    _check_features(graph, "nodes", total_nodes, "sum(n_node)")
    _check_features(graph, "edges", len(senders), "one per sender")
    _check_features(graph, "globals", len(n_node), "one per graph")


def _stack_field(values: list[Any], rows: list[int], field: str) -> np.ndarray | None:
    """Concatenates one optional field over graphs.

    None if absent in all graphs; a graph without rows may omit it; any other
    graph missing it is an error.
    """
    present = [v for v in values if v is not None]
    if not present:
        return None
    template = np.asarray(present[0])
    arrays = []
    for g, (value, count) in enumerate(zip(values, rows)):
        if value is None and count > 0:
            raise ValueError(f"Field {field!r} is missing in graph {g} but present in others.")
        arrays.append(np.zeros((0,) + template.shape[1:], template.dtype) if value is None else np.asarray(value))
    return np.concatenate(arrays, axis=0)


def data_dicts_to_graphs_tuple(data_dicts: Sequence[dict[str, Any]]) -> jraph.GraphsTuple:
    """Batches graph_nets-style data dicts (one graph each, local node indices) into a validated GraphsTuple.

    Missing `n_node` / `n_edge` are inferred from nodes / senders; missing
    senders and receivers mean no edges; globals get a leading graph axis.
    The result holds numpy arrays with int32 indices.
    """
    n_node, n_edge, senders, receivers, fields = [], [], [], [], {f: [] for f in FEATURE_FIELDS}
    offset = 0
    for d in data_dicts:
        s = np.asarray(d.get("senders") if d.get("senders") is not None else [], np.int32).reshape(-1)
        r = np.asarray(d.get("receivers") if d.get("receivers") is not None else [], np.int32).reshape(-1)
        nodes_count = d.get("n_node", np.shape(d["nodes"])[0] if d.get("nodes") is not None else 0)
        n_node.append(int(nodes_count))
        n_edge.append(int(d.get("n_edge", len(s))))
        senders.append(s + offset)
        receivers.append(r + offset)
        offset += n_node[-1]
        for field in FEATURE_FIELDS:
            value = d.get(field)
            fields[field].append(None if value is None else np.asarray(value)[None] if field == "globals" else value)
    graph = jraph.GraphsTuple(
        nodes=_stack_field(fields["nodes"], n_node, "nodes"),
        edges=_stack_field(fields["edges"], n_edge, "edges"),
        globals=_stack_field(fields["globals"], [1] * len(n_node), "globals"),
        senders=np.concatenate(senders + [np.zeros(0, np.int32)]).astype(np.int32),
        receivers=np.concatenate(receivers + [np.zeros(0, np.int32)]).astype(np.int32),
        n_node=np.asarray(n_node, np.int32),
        n_edge=np.asarray(n_edge, np.int32),
    )
    validate(graph)
    return graph


def unbatch(graph: jraph.GraphsTuple) -> list[jraph.GraphsTuple]:
    """Splits a validated batch into single-graph GraphsTuples (numpy, indices local to each graph)."""
    validate(graph)
    n_node, n_edge = np.asarray(graph.n_node), np.asarray(graph.n_edge)
    node_starts = np.concatenate([[0], np.cumsum(n_node)])
    edge_starts = np.concatenate([[0], np.cumsum(n_edge)])
    graphs = []
    for g in range(len(n_node)):
        nodes_slice = slice(node_starts[g], node_starts[g + 1])
        edges_slice = slice(edge_starts[g], edge_starts[g + 1])

        def rows(field: str, rows_slice: slice) -> np.ndarray | None:
            value = getattr(graph, field)
            return None if value is None else np.asarray(value)[rows_slice]

        graphs.append(jraph.GraphsTuple(
            nodes=rows("nodes", nodes_slice),
            edges=rows("edges", edges_slice),
            globals=rows("globals", slice(g, g + 1)),
            senders=np.asarray(graph.senders)[edges_slice] - node_starts[g],
            receivers=np.asarray(graph.receivers)[edges_slice] - node_starts[g],
            n_node=n_node[g:g + 1],
            n_edge=n_edge[g:g + 1],
        ))
    return graphs


def graphs_tuple_to_data_dicts(graph: jraph.GraphsTuple) -> list[dict[str, Any]]:
    """Splits a validated batch into graph_nets-style data dicts (globals without the graph axis)."""
    dicts = []
    for single in unbatch(graph):
        d = single._asdict()
        d["n_node"], d["n_edge"] = int(single.n_node[0]), int(single.n_edge[0])
        d["globals"] = None if single.globals is None else single.globals[0]
        dicts.append(d)
    return dicts


def networkxs_to_graphs_tuple(graphs: Sequence[nx.Graph], node_key: str = "features", edge_key: str = "features",
                              global_key: str = "features") -> jraph.GraphsTuple:
    """Batches networkx graphs into a validated GraphsTuple.

    Nodes are taken in sorted order of their ids; features are read from the
    `node_key` / `edge_key` attributes and `graph.graph[global_key]` (a field
    absent everywhere becomes None). Undirected graphs give one edge per
    networkx edge, in networkx's orientation.
    """
    data_dicts = []
    for graph in graphs:
        order = sorted(graph.nodes)
        position = {node: i for i, node in enumerate(order)}
        node_features = [graph.nodes[n].get(node_key) for n in order]
        edge_list = list(graph.edges(data=True))
        edge_features = [data.get(edge_key) for _, _, data in edge_list]
        data_dicts.append({
            "nodes": _features_or_none(node_features, len(order)),
            "edges": _features_or_none(edge_features, len(edge_list)),
            "globals": graph.graph.get(global_key),
            "senders": [position[s] for s, _, _ in edge_list],
            "receivers": [position[r] for _, r, _ in edge_list],
            "n_node": len(order),
            "n_edge": len(edge_list),
        })
    return data_dicts_to_graphs_tuple(data_dicts)


def _features_or_none(features: list[Any], count: int) -> np.ndarray | None:
    """Stacked per-item features, or None when no item has any (an empty graph gives None too)."""
    if count == 0 or all(f is None for f in features):
        return None
    if any(f is None for f in features):
        raise ValueError(f"Item {[f is None for f in features].index(True)} has no features but others do.")
    return np.stack([np.asarray(f) for f in features])


def graphs_tuple_to_networkxs(graph: jraph.GraphsTuple, key: str = "features") -> list[nx.MultiDiGraph]:
    """Splits a validated batch into networkx MultiDiGraphs, features under `key`."""
    result = []
    for single in unbatch(graph):
        nx_graph = nx.MultiDiGraph()
        if single.globals is not None:
            nx_graph.graph[key] = single.globals[0]
        for i in range(int(single.n_node[0])):
            nx_graph.add_node(i, **({} if single.nodes is None else {key: single.nodes[i]}))
        for k, (s, r) in enumerate(zip(single.senders, single.receivers)):
            nx_graph.add_edge(int(s), int(r), **({} if single.edges is None else {key: single.edges[k]}))
        result.append(nx_graph)
    return result


def _num_node_rows(graph: jraph.GraphsTuple) -> int:
    """Static number of node rows."""
    if graph.nodes is None:
        raise ValueError("graph.nodes is None, so the number of nodes is not known statically.")
    return graph.nodes.shape[0]


def _concat_optional(values: list[Any], axis: int, field: str) -> Any:
    """jnp-concatenates a field present in all graphs; None if absent in all."""
    present = [v is not None for v in values]
    if not any(present):
        return None
    if not all(present):
        raise ValueError(f"Field {field!r} is missing in graph {present.index(False)} but present in others.")
    return jnp.concatenate(values, axis=axis)


def concat(graphs: Sequence[jraph.GraphsTuple], axis: int = 0) -> jraph.GraphsTuple:
    """Concatenates graphs: axis 0 batches them; any other axis joins their features.

    Batching offsets senders and receivers by the node rows before them; joining
    features needs graphs of identical structure and keeps the first one's
    indices. Jittable (offsets come from static shapes).
    """
    if not graphs:
        raise ValueError("concat() needs at least one graph.")
    if axis != 0:
        return graphs[0]._replace(**{
            field: _concat_optional([getattr(g, field) for g in graphs], axis, field) for field in FEATURE_FIELDS})
    offsets = np.cumsum([0] + [_num_node_rows(g) for g in graphs[:-1]])
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


def fully_connect_graph(graph: jraph.GraphsTuple, exclude_self_edges: bool = False) -> jraph.GraphsTuple:
    """`graph` with every ordered pair of nodes of each graph as an edge (edges set to None).

    Edges are sender-major within each graph. Host-side: needs concrete n_node.
    """
    n_node = np.asarray(graph.n_node)
    senders, receivers, n_edge = [], [], []
    offset = 0
    for count in n_node:
        s, r = np.meshgrid(np.arange(count), np.arange(count), indexing="ij")
        keep = (s != r) if exclude_self_edges else np.ones_like(s, bool)
        senders.append(s[keep] + offset)
        receivers.append(r[keep] + offset)
        n_edge.append(int(keep.sum()))
        offset += count
    result = graph._replace(
        edges=None,
        senders=np.concatenate(senders + [np.zeros(0, np.int32)]).astype(np.int32),
        receivers=np.concatenate(receivers + [np.zeros(0, np.int32)]).astype(np.int32),
        n_edge=np.asarray(n_edge, np.int32),
    )
    validate(result)
    return result


def _is_concrete(graph: jraph.GraphsTuple) -> bool:
    """Whether the graph holds values rather than tracers."""
    return not any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree_util.tree_leaves(graph))


def _pad_rows(values: Any, rows: int, xp: Any, fill: int = 0) -> Any:
    """`values` with `rows` rows of `fill` appended."""
    if values is None:
        return None
    padding = [(0, rows)] + [(0, 0)] * (values.ndim - 1)
    return xp.pad(values, padding, constant_values=fill)


def pad_to(graph: jraph.GraphsTuple, num_nodes: int, num_edges: int, num_graphs: int) -> jraph.GraphsTuple:
    """Pads a batch to exactly `num_nodes` nodes, `num_edges` edges and `num_graphs` graphs.

    Padding is appended after the real graphs: the first padding graph holds all
    padding nodes and edges (edges from and to its first node), further padding
    graphs are empty; padded features are zeros. Because padding lives in its
    own graphs, it never enters the reductions of real nodes or graphs, so
    real outputs do not change. Needs at least one padding graph, and a padding
    node whenever edges are padded. With exactly one padding graph the layout
    is jraph's (`jraph.pad_with_graphs`), so jraph's padding masks apply too.

    Jittable (works on traced arrays; sizes are static). Concrete inputs are
    validated first; traced ones cannot be, so validate at the data boundary.
    Numpy input gives numpy output.
    """
    if _is_concrete(graph):
        validate(graph)
    real_nodes, real_edges, real_graphs = _num_node_rows(graph), graph.senders.shape[0], graph.n_node.shape[0]
    extra_nodes, extra_edges, extra_graphs = num_nodes - real_nodes, num_edges - real_edges, num_graphs - real_graphs
    if extra_nodes < 0 or extra_edges < 0 or extra_graphs < 1:
        raise ValueError(f"Cannot pad {real_nodes} nodes, {real_edges} edges, {real_graphs} graphs to "
                         f"{num_nodes}, {num_edges}, {num_graphs}: sizes may not shrink and one padding graph is needed.")
    if extra_edges > 0 and extra_nodes == 0:
        raise ValueError(f"Padding edges needs a padding node but num_nodes equals the {real_nodes} real nodes.")
    xp = np if all(isinstance(leaf, np.ndarray) for leaf in jax.tree_util.tree_leaves(graph)) else jnp
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


def graph_mask(graph: jraph.GraphsTuple, num_real_graphs: int | jax.Array | None = None) -> jax.Array:
    """True for the real graphs of a padded batch, False for padding graphs.

    The real graphs are the first `num_real_graphs`; by default all but the
    last, jraph's convention, which `pad_to` follows when `num_graphs` is the
    number of real graphs plus one. Jittable; `num_real_graphs` may be traced.
    """
    total_graphs = graph.n_node.shape[0]
    if num_real_graphs is None:
        num_real_graphs = total_graphs - 1
    return jnp.arange(total_graphs) < num_real_graphs


def node_mask(graph: jraph.GraphsTuple, num_real_graphs: int | jax.Array | None = None) -> jax.Array:
    """True for the nodes of the real graphs of a padded batch (see `graph_mask`)."""
    total_nodes = _num_node_rows(graph)
    return jnp.repeat(graph_mask(graph, num_real_graphs), graph.n_node, total_repeat_length=total_nodes)


def edge_mask(graph: jraph.GraphsTuple, num_real_graphs: int | jax.Array | None = None) -> jax.Array:
    """True for the edges of the real graphs of a padded batch (see `graph_mask`)."""
    total_edges = graph.senders.shape[0]
    return jnp.repeat(graph_mask(graph, num_real_graphs), graph.n_edge, total_repeat_length=total_edges)


def next_power_of_two(n: int) -> int:
    """The smallest power of two >= n (1 for n <= 1)."""
    return 1 << max(int(n) - 1, 0).bit_length()


def bucket_sizes(graph: jraph.GraphsTuple) -> tuple[int, int, int]:
    """(num_nodes, num_edges, num_graphs) budgets: the next powers of two that fit the padding.

    Batches of similar size share a bucket, so a stream of varying batches
    compiles O(log(max size)) times instead of once per shape.
    """
    real_nodes, real_edges, real_graphs = _num_node_rows(graph), graph.senders.shape[0], graph.n_node.shape[0]
    return next_power_of_two(real_nodes + 1), next_power_of_two(real_edges), next_power_of_two(real_graphs + 1)


def pad_to_bucket(graph: jraph.GraphsTuple) -> jraph.GraphsTuple:
    """`pad_to(graph, *bucket_sizes(graph))`."""
    return pad_to(graph, *bucket_sizes(graph))
