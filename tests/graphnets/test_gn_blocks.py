"""Blocks and reducers against the numpy GN equations in gn_reference."""

import itertools

import gn_reference
import gn_testing
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from graphnets import blocks, layers

OUT = 5
# Includes a graph without nodes and a graph without edges, so reductions meet empty segments.
N_NODE, N_EDGE = [3, 0, 4, 2], [5, 0, 0, 3]
REDUCERS = {
    "sum": blocks.segment_sum,
    "mean": blocks.segment_mean,
    "max": blocks.segment_max,
    "min": blocks.segment_min,
}
# "split" models read the concatenation by parts; "plain" ones (hk.Linear) get it materialised.
MODEL_FNS = {"split": lambda: layers.MLP([OUT]), "plain": lambda: hk.Linear(OUT)}


def _graph(seed: int = 0):
    return gn_testing.random_graph(np.random.default_rng(seed), N_NODE, N_EDGE)


def _switch_sets(names):
    """Every assignment of the switches except all-off."""
    return [
        dict(zip(names, values))
        for values in itertools.product([False, True], repeat=len(names))
        if any(values)
    ]


def _run_block(block_cls, model, kwargs, graph):
    net = hk.without_apply_rng(hk.transform(lambda g: block_cls(MODEL_FNS[model], **kwargs)(g)))
    params = net.init(jax.random.PRNGKey(0), graph)
    (layer_params,) = params.values()
    return net.apply(params, graph), layer_params


@pytest.mark.parametrize("model", ["split", "plain"])
def test_edge_block_matches_numpy_for_every_switch_set(model):
    graph = _graph()
    for switches in _switch_sets(
        ["use_edges", "use_receiver_nodes", "use_sender_nodes", "use_globals"]
    ):
        out, p = _run_block(blocks.EdgeBlock, model, switches, graph)
        expected = gn_reference.edge_block(graph, p, **switches)
        np.testing.assert_allclose(out.edges, expected, rtol=1e-5, atol=1e-5, err_msg=str(switches))
        np.testing.assert_array_equal(out.nodes, graph.nodes)


@pytest.mark.parametrize("model", ["split", "plain"])
def test_node_block_matches_numpy_for_every_switch_set(model):
    graph = _graph(1)
    for switches in _switch_sets(
        ["use_received_edges", "use_sent_edges", "use_nodes", "use_globals"]
    ):
        out, p = _run_block(blocks.NodeBlock, model, switches, graph)
        expected = gn_reference.node_block(graph, p, **switches)
        np.testing.assert_allclose(out.nodes, expected, rtol=1e-5, atol=1e-5, err_msg=str(switches))
        np.testing.assert_array_equal(out.edges, graph.edges)


@pytest.mark.parametrize("model", ["split", "plain"])
def test_global_block_matches_numpy_for_every_switch_set(model):
    graph = _graph(2)
    for switches in _switch_sets(["use_edges", "use_nodes", "use_globals"]):
        out, p = _run_block(blocks.GlobalBlock, model, switches, graph)
        expected = gn_reference.global_block(graph, p, **switches)
        np.testing.assert_allclose(
            out.globals, expected, rtol=1e-5, atol=1e-5, err_msg=str(switches)
        )


@pytest.mark.parametrize("reducer", sorted(REDUCERS))
def test_reducers_in_node_and_global_blocks(reducer):
    graph = _graph(3)
    node_kwargs = dict(
        use_sent_edges=True,
        received_edges_reducer=REDUCERS[reducer],
        sent_edges_reducer=REDUCERS[reducer],
    )
    out, p = _run_block(blocks.NodeBlock, "split", node_kwargs, graph)
    expected = gn_reference.node_block(
        graph, p, use_sent_edges=True, received_edges_reducer=reducer, sent_edges_reducer=reducer
    )
    np.testing.assert_allclose(out.nodes, expected, rtol=1e-5, atol=1e-5)
    global_kwargs = dict(edges_reducer=REDUCERS[reducer], nodes_reducer=REDUCERS[reducer])
    out, p = _run_block(blocks.GlobalBlock, "split", global_kwargs, graph)
    expected = gn_reference.global_block(graph, p, edges_reducer=reducer, nodes_reducer=reducer)
    np.testing.assert_allclose(out.globals, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("reducer", sorted(REDUCERS))
def test_reducers_give_zeros_for_empty_segments(reducer):
    data = jnp.asarray([[1.0, -2.0], [3.0, 4.0]])
    out = REDUCERS[reducer](data, jnp.asarray([0, 2]), 4)
    np.testing.assert_array_equal(out[1], 0.0)
    np.testing.assert_array_equal(out[3], 0.0)
    np.testing.assert_array_equal(out[0], data[0])


def test_segment_softmax_matches_numpy():
    logits = np.random.default_rng(0).normal(size=(6, 2)).astype(np.float32)
    ids = np.asarray([0, 0, 2, 2, 2, 3])
    out = blocks.segment_softmax(jnp.asarray(logits), jnp.asarray(ids), 5)
    np.testing.assert_allclose(
        out, gn_reference.segment_softmax(logits, ids, 5), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "block_cls,switches",
    [
        (blocks.EdgeBlock, ["use_edges", "use_receiver_nodes", "use_sender_nodes", "use_globals"]),
        (blocks.NodeBlock, ["use_received_edges", "use_sent_edges", "use_nodes", "use_globals"]),
        (blocks.GlobalBlock, ["use_edges", "use_nodes", "use_globals"]),
    ],
)
def test_all_switches_off_is_an_error(block_cls, switches):
    build = hk.transform(lambda: block_cls(MODEL_FNS["split"], **{s: False for s in switches}))
    with pytest.raises(ValueError, match="At least one"):
        build.init(jax.random.PRNGKey(0))


def test_missing_field_is_an_error():
    graph = _graph()._replace(globals=None)
    net = hk.transform(lambda g: blocks.EdgeBlock(MODEL_FNS["split"])(g))
    with pytest.raises(ValueError, match="use_globals=True but graph.globals is None"):
        net.init(jax.random.PRNGKey(0), graph)


def test_broadcast_and_aggregate_helpers():
    graph = _graph(4)
    e_ids, v_ids = gn_reference.graph_ids(graph.n_edge), gn_reference.graph_ids(graph.n_node)
    np.testing.assert_array_equal(blocks.broadcast_globals_to_edges(graph), graph.globals[e_ids])
    np.testing.assert_array_equal(blocks.broadcast_globals_to_nodes(graph), graph.globals[v_ids])
    np.testing.assert_array_equal(
        blocks.broadcast_sender_nodes_to_edges(graph), graph.nodes[graph.senders]
    )
    np.testing.assert_array_equal(
        blocks.broadcast_receiver_nodes_to_edges(graph), graph.nodes[graph.receivers]
    )
    n, g = graph.nodes.shape[0], len(graph.n_node)
    for helper, data, ids, count in [
        (blocks.received_edges_to_nodes_aggregate, graph.edges, graph.receivers, n),
        (blocks.sent_edges_to_nodes_aggregate, graph.edges, graph.senders, n),
        (blocks.edges_to_globals_aggregate, graph.edges, e_ids, g),
        (blocks.nodes_to_globals_aggregate, graph.nodes, v_ids, g),
    ]:
        np.testing.assert_allclose(
            helper(graph, blocks.segment_max),
            gn_reference.reduce(data, ids, count, "max"),
            rtol=1e-6,
        )
