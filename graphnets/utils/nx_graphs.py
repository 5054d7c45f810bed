"""networkx graphs to and from a batch, by way of the data dicts of `data_dicts`."""

from collections.abc import Sequence
from typing import Any

import jraph
import networkx as nx
import numpy as np

from graphnets.utils.data_dicts import data_dicts_to_graphs_tuple, unbatch
from graphnets.utils.validation import _checked_rows, _sequence_of


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
