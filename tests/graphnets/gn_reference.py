"""An independent numpy implementation of the GN block equations, for the tests."""

import numpy as np

REDUCERS = {
    "sum": lambda rows: rows.sum(axis=0),
    "mean": lambda rows: rows.mean(axis=0),
    "max": lambda rows: rows.max(axis=0),
    "min": lambda rows: rows.min(axis=0),
}


def reduce(
    data: np.ndarray, segment_ids: np.ndarray, num_segments: int, reducer: str
) -> np.ndarray:
    """Per-segment reduction with a Python loop; empty segments are zeros."""
    out = np.zeros((num_segments,) + data.shape[1:], np.float64)
    for s in range(num_segments):
        rows = data[segment_ids == s]
        if len(rows):
            out[s] = REDUCERS[reducer](rows)
    return out


def graph_ids(counts: np.ndarray) -> np.ndarray:
    """Graph index of every row, from per-graph counts."""
    return np.repeat(np.arange(len(counts)), counts)


def linear(x: np.ndarray, params: dict) -> np.ndarray:
    """x @ w + b in float64."""
    return x.astype(np.float64) @ np.asarray(params["w"], np.float64) + np.asarray(
        params["b"], np.float64
    )


def edge_block(
    g, params, use_edges=True, use_receiver_nodes=True, use_sender_nodes=True, use_globals=True
):
    """e'_k = W [e_k, v_rk, v_sk, u_gk] + b."""
    cols = []
    if use_edges:
        cols.append(g.edges)
    if use_receiver_nodes:
        cols.append(g.nodes[g.receivers])
    if use_sender_nodes:
        cols.append(g.nodes[g.senders])
    if use_globals:
        cols.append(g.globals[graph_ids(g.n_edge)])
    return linear(np.concatenate(cols, axis=1), params)


def node_block(
    g,
    params,
    use_received_edges=True,
    use_sent_edges=False,
    use_nodes=True,
    use_globals=True,
    received_edges_reducer="sum",
    sent_edges_reducer="sum",
):
    """v'_i = W [rho(received e), rho(sent e), v_i, u_gi] + b."""
    num_nodes = g.nodes.shape[0]
    cols = []
    if use_received_edges:
        cols.append(reduce(g.edges, g.receivers, num_nodes, received_edges_reducer))
    if use_sent_edges:
        cols.append(reduce(g.edges, g.senders, num_nodes, sent_edges_reducer))
    if use_nodes:
        cols.append(g.nodes)
    if use_globals:
        cols.append(g.globals[graph_ids(g.n_node)])
    return linear(np.concatenate(cols, axis=1), params)


def global_block(
    g,
    params,
    use_edges=True,
    use_nodes=True,
    use_globals=True,
    edges_reducer="sum",
    nodes_reducer="sum",
):
    """u' = W [rho(E), rho(V), u] + b."""
    num_graphs = len(g.n_node)
    cols = []
    if use_edges:
        cols.append(reduce(g.edges, graph_ids(g.n_edge), num_graphs, edges_reducer))
    if use_nodes:
        cols.append(reduce(g.nodes, graph_ids(g.n_node), num_graphs, nodes_reducer))
    if use_globals:
        cols.append(g.globals)
    return linear(np.concatenate(cols, axis=1), params)


def segment_softmax(logits: np.ndarray, segment_ids: np.ndarray, num_segments: int) -> np.ndarray:
    """Softmax over the rows of each segment, loop by loop."""
    out = np.zeros_like(logits, np.float64)
    for s in range(num_segments):
        rows = segment_ids == s
        if rows.any():
            e = np.exp(logits[rows] - logits[rows].max(axis=0))
            out[rows] = e / e.sum(axis=0)
    return out
