"""Conversions, batching, padding and validation."""

import gn_testing
import jax
import jax.numpy as jnp
import jraph
import networkx as nx
import numpy as np
import pytest

from graphnets import utils


def _graph(seed=0, n_node=(3, 0, 4), n_edge=(4, 0, 2)):
    return gn_testing.random_graph(np.random.default_rng(seed), list(n_node), list(n_edge))


def test_data_dicts_round_trip():
    graph = _graph()
    dicts = utils.graphs_tuple_to_data_dicts(graph)
    assert [d["n_node"] for d in dicts] == [3, 0, 4]
    assert dicts[2]["senders"].max() < 4 and dicts[0]["globals"].shape == (4,)
    gn_testing.assert_graphs_equal(utils.data_dicts_to_graphs_tuple(dicts), graph)


def test_data_dicts_without_optional_fields():
    graph = utils.data_dicts_to_graphs_tuple(
        [
            {"nodes": np.zeros((2, 1))},
            {"nodes": np.zeros((3, 1)), "senders": [0, 2], "receivers": [1, 1]},
        ]
    )
    np.testing.assert_array_equal(graph.n_node, [2, 3])
    np.testing.assert_array_equal(graph.senders, [2, 4])
    assert graph.edges is None and graph.globals is None


def test_networkx_round_trip():
    graph = _graph(1)
    networkxs = utils.graphs_tuple_to_networkxs(graph)
    assert [g.number_of_nodes() for g in networkxs] == [3, 0, 4]
    gn_testing.assert_graphs_equal(utils.networkxs_to_graphs_tuple(networkxs), graph)


def test_networkx_node_ids_are_sorted():
    g = nx.DiGraph()
    g.add_node("b", features=np.array([2.0]))
    g.add_node("a", features=np.array([1.0]))
    g.add_edge("b", "a", features=np.array([5.0]))
    g.graph["features"] = np.array([0.0])
    graph = utils.networkxs_to_graphs_tuple([g])
    np.testing.assert_array_equal(graph.nodes[:, 0], [1.0, 2.0])
    assert graph.senders.tolist() == [1] and graph.receivers.tolist() == [0]


def test_batch_unbatch_and_feature_concat():
    a, b = _graph(2, (2, 3), (1, 4)), _graph(3, (4,), (5,))
    batched = utils.batch([a, b])
    np.testing.assert_array_equal(batched.n_node, [2, 3, 4])
    np.testing.assert_array_equal(batched.senders[5:], b.senders + 5)
    parts = utils.unbatch(batched)
    gn_testing.assert_graphs_equal(parts[2], b)
    gn_testing.assert_graphs_equal(utils.batch(parts[:2]), a)
    joined = utils.concat([a, a], axis=-1)
    assert joined.nodes.shape == (5, 6) and joined.globals.shape == (2, 8)
    np.testing.assert_array_equal(joined.senders, a.senders)
    jitted = jax.jit(utils.batch)([a, b])
    gn_testing.assert_graphs_equal(jitted, batched)


@pytest.mark.parametrize("exclude_self_edges", [False, True])
def test_fully_connect_graph(exclude_self_edges):
    graph = _graph(4, (3, 0, 2), (0, 0, 0))
    full = utils.fully_connect_graph(graph, exclude_self_edges=exclude_self_edges)
    expected = [
        (s, r)
        for start, n in ((0, 3), (3, 2))
        for s in range(start, start + n)
        for r in range(start, start + n)
        if not (exclude_self_edges and s == r)
    ]
    assert list(zip(full.senders.tolist(), full.receivers.tolist())) == expected
    assert full.n_edge.tolist() == ([6, 0, 2] if exclude_self_edges else [9, 0, 4])
    assert full.edges is None


def test_pad_to_is_jittable_and_numpy_stays_numpy():
    graph = _graph(5)
    padded = utils.pad_to(graph, 10, 8, 5)
    assert isinstance(padded.nodes, np.ndarray)
    np.testing.assert_array_equal(padded.n_node, [3, 0, 4, 3, 0])
    np.testing.assert_array_equal(padded.n_edge, [4, 0, 2, 2, 0])
    np.testing.assert_array_equal(padded.senders[6:], [7, 7])
    utils.validate(padded)
    jitted = jax.jit(utils.pad_to, static_argnums=(1, 2, 3))(
        jax.tree_util.tree_map(jnp.asarray, graph), 10, 8, 5
    )
    gn_testing.assert_graphs_equal(jitted, padded)
    mask = jax.jit(utils.node_mask)(jitted, jnp.asarray(3))
    np.testing.assert_array_equal(mask, [True] * 7 + [False] * 3)


def test_one_padding_graph_matches_jraph_masks():
    graph = utils.pad_to(_graph(10), 12, 9, 4)
    for ours, theirs in [
        (utils.node_mask, jraph.get_node_padding_mask),
        (utils.edge_mask, jraph.get_edge_padding_mask),
        (utils.graph_mask, jraph.get_graph_padding_mask),
    ]:
        np.testing.assert_array_equal(ours(graph), theirs(graph))


def test_pad_to_rejects_impossible_budgets():
    graph = _graph(6)
    with pytest.raises(ValueError, match="padding graph"):
        utils.pad_to(graph, 10, 8, 3)
    with pytest.raises(ValueError, match="padding node"):
        utils.pad_to(graph, 7, 8, 4)


def test_bucket_sizes_are_tight_powers_of_two():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n_node = rng.integers(1, 9, size=rng.integers(1, 6))
        n_edge = rng.integers(0, 12, size=len(n_node))
        graph = gn_testing.random_graph(rng, list(n_node), list(n_edge))
        padded = utils.pad_to_bucket(graph)
        utils.validate(padded)
        needed = (n_node.sum() + 1, max(n_edge.sum(), 1), len(n_node) + 1)
        budgets = (padded.nodes.shape[0], padded.senders.shape[0], padded.n_node.shape[0])
        assert budgets == utils.bucket_sizes(graph)
        for need, budget in zip(needed, budgets):
            assert budget & (budget - 1) == 0 and need <= budget < 2 * need
    assert utils.bucket_sizes(_graph(8, (3, 4), (8, 0))) == (8, 8, 4)


def _bad(field, value, base=None):
    graph = base if base is not None else _graph(9)
    return graph._replace(**{field: value})


G = _graph(9)
BAD_GRAPHS = [
    (
        _bad("senders", np.array([0, 1, -1, 0, 3, 5], np.int32)),
        r"graph.senders\[2\] = -1 is out of range",
    ),
    (
        _bad("receivers", np.array([0, 1, 2, 0, 3, 9], np.int32)),
        r"graph.receivers\[5\] = 9 is out of range",
    ),
    (_bad("senders", G.senders.astype(np.float32)), r"graph.senders has dtype float32"),
    (_bad("receivers", G.receivers[:5]), r"graph.senders has 6 entries but graph.receivers has 5"),
    (
        _bad("n_node", np.array([3, 0, 5], np.int32)),
        r"sum\(graph.n_node\) is 8 but graph.nodes has 7 rows",
    ),
    (
        _bad("n_edge", np.array([4, 0, 1], np.int32)),
        r"sum\(graph.n_edge\) is 5 but graph.senders has 6 rows",
    ),
    (
        _bad("globals", np.zeros((2, 4), np.float32)),
        r"graph.globals has shape \(2, 4\) but needs 3 rows",
    ),
    (
        _bad("senders", np.array([0, 1, 2, 4, 3, 5], np.int32)),
        r"graph.senders\[3\] = 4 is a node of graph 2 "
        r"but edge 3 belongs to graph 0",
    ),
    (
        _bad("nodes", np.where(np.arange(7)[:, None] == 5, np.nan, G.nodes).astype(np.float32)),
        r"graph.nodes\[5\] has a non-finite value",
    ),
    (
        _bad("edges", np.where(np.arange(6)[:, None] == 1, np.inf, G.edges).astype(np.float32)),
        r"graph.edges\[1\] has a non-finite value",
    ),
]


@pytest.mark.parametrize("graph,message", BAD_GRAPHS)
def test_validate_names_field_and_index(graph, message):
    with pytest.raises(ValueError, match=message):
        utils.validate(graph)


def test_conversions_and_padding_validate():
    bad = BAD_GRAPHS[1][0]
    with pytest.raises(ValueError, match="out of range"):
        utils.pad_to(bad, 20, 20, 5)
    with pytest.raises(ValueError, match="out of range"):
        utils.data_dicts_to_graphs_tuple(
            [{"nodes": np.zeros((2, 1)), "senders": [0], "receivers": [2]}]
        )
    with pytest.raises(ValueError, match="traced"):
        jax.jit(utils.validate)(jax.tree_util.tree_map(jnp.asarray, _graph()))
