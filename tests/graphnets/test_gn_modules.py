"""The module family against the numpy GN equations in gn_reference."""

import gn_reference as ref
import gn_testing
import haiku as hk
import jax
import numpy as np
import pytest

import graphnets as gn
from graphnets import layers

OUT = 4
N_NODE, N_EDGE = [3, 0, 4, 2], [5, 0, 0, 3]
TOL = dict(rtol=1e-5, atol=1e-5)


def linear_fn():
    return layers.MLP([OUT])


def _apply(build, graph, *args):
    net = hk.without_apply_rng(hk.transform(lambda *a: build()(*a)))
    params = net.init(jax.random.PRNGKey(0), graph, *args)
    return net.apply(params, graph, *args), params


@pytest.fixture
def graph():
    return gn_testing.random_graph(np.random.default_rng(0), N_NODE, N_EDGE)


def test_graph_network(graph):
    out, params = _apply(
        lambda: gn.GraphNetwork(linear_fn, linear_fn, linear_fn, reducer=gn.segment_mean), graph
    )
    p = lambda name: gn_testing.module_params(params, name)
    g1 = graph._replace(edges=ref.edge_block(graph, p("edge_block")))
    g2 = g1._replace(nodes=ref.node_block(g1, p("node_block"), received_edges_reducer="mean"))
    expected = ref.global_block(g2, p("global_block"), edges_reducer="mean", nodes_reducer="mean")
    np.testing.assert_allclose(out.edges, g1.edges, **TOL)
    np.testing.assert_allclose(out.nodes, g2.nodes, **TOL)
    np.testing.assert_allclose(out.globals, expected, **TOL)


def test_graph_network_block_options(graph):
    build = lambda: gn.GraphNetwork(
        linear_fn,
        linear_fn,
        linear_fn,
        reducer=gn.segment_max,
        edge_block_opt={"use_globals": False},
        node_block_opt={"use_sent_edges": True, "sent_edges_reducer": gn.segment_min},
        global_block_opt={"use_edges": False},
    )
    out, params = _apply(build, graph)
    p = lambda name: gn_testing.module_params(params, name)
    g1 = graph._replace(edges=ref.edge_block(graph, p("edge_block"), use_globals=False))
    g2 = g1._replace(
        nodes=ref.node_block(
            g1,
            p("node_block"),
            use_sent_edges=True,
            received_edges_reducer="max",
            sent_edges_reducer="min",
        )
    )
    np.testing.assert_allclose(out.nodes, g2.nodes, **TOL)
    np.testing.assert_allclose(
        out.globals,
        ref.global_block(g2, p("global_block"), use_edges=False, nodes_reducer="max"),
        **TOL,
    )


def test_graph_independent(graph):
    out, params = _apply(lambda: gn.GraphIndependent(linear_fn, None, linear_fn), graph)
    np.testing.assert_allclose(
        out.edges, ref.linear(graph.edges, gn_testing.module_params(params, "edge_model")), **TOL
    )
    np.testing.assert_array_equal(out.nodes, graph.nodes)
    np.testing.assert_allclose(
        out.globals,
        ref.linear(graph.globals, gn_testing.module_params(params, "global_model")),
        **TOL,
    )


def test_interaction_network(graph):
    out, params = _apply(lambda: gn.InteractionNetwork(linear_fn, linear_fn), graph)
    p = lambda name: gn_testing.module_params(params, name)
    g1 = graph._replace(edges=ref.edge_block(graph, p("edge_block"), use_globals=False))
    np.testing.assert_allclose(out.edges, g1.edges, **TOL)
    np.testing.assert_allclose(
        out.nodes, ref.node_block(g1, p("node_block"), use_globals=False), **TOL
    )
    np.testing.assert_array_equal(out.globals, graph.globals)


@pytest.mark.parametrize("use_globals", [False, True])
def test_relation_network(graph, use_globals):
    out, params = _apply(
        lambda: gn.RelationNetwork(
            linear_fn, linear_fn, reducer=gn.segment_max, use_globals=use_globals
        ),
        graph,
    )
    p = lambda name: gn_testing.module_params(params, name)
    edges = ref.edge_block(graph, p("edge_block"), use_edges=False, use_globals=use_globals)
    expected = ref.global_block(
        graph._replace(edges=edges), p("global_block"), use_nodes=False, use_globals=False,
        edges_reducer="max",
    )
    np.testing.assert_allclose(out.globals, expected, **TOL)
    np.testing.assert_array_equal(out.edges, graph.edges)
    np.testing.assert_array_equal(out.nodes, graph.nodes)


def test_deep_sets(graph):
    out, params = _apply(lambda: gn.DeepSets(linear_fn, linear_fn, reducer=gn.segment_mean), graph)
    p = lambda name: gn_testing.module_params(params, name)
    nodes = ref.node_block(graph, p("node_block"), use_received_edges=False)
    np.testing.assert_allclose(out.nodes, nodes, **TOL)
    expected = ref.global_block(
        graph._replace(nodes=nodes), p("global_block"), use_edges=False, use_globals=False,
        nodes_reducer="mean",
    )
    np.testing.assert_allclose(out.globals, expected, **TOL)


def test_comm_net(graph):
    out, params = _apply(lambda: gn.CommNet(linear_fn, linear_fn, linear_fn), graph)
    p = lambda name: gn_testing.module_params(params, name)
    edges = ref.edge_block(
        graph, p("edge_block"), use_edges=False, use_receiver_nodes=False, use_globals=False
    )
    encoded = ref.node_block(
        graph._replace(edges=edges),
        p("node_encoder_block"),
        use_received_edges=False,
        use_globals=False,
    )
    expected = ref.node_block(
        graph._replace(edges=edges, nodes=encoded), p("comm_net/~/node_block"), use_globals=False
    )
    np.testing.assert_allclose(out.nodes, expected, **TOL)
    np.testing.assert_array_equal(out.edges, graph.edges)


def test_self_attention(graph):
    rng = np.random.default_rng(1)
    n, heads = graph.nodes.shape[0], 2
    values, keys, queries = (
        rng.normal(size=(n, heads, size)).astype(np.float32) for size in (3, 4, 4)
    )
    out, _ = _apply(
        lambda: lambda g, v, k, q: gn.SelfAttention()(v, k, q, g), graph, values, keys, queries
    )
    logits = np.sum(keys[graph.senders] * queries[graph.receivers], axis=-1)
    weights = ref.segment_softmax(logits, graph.receivers, n)
    expected = ref.reduce(values[graph.senders] * weights[..., None], graph.receivers, n, "sum")
    np.testing.assert_allclose(out.nodes, expected, **TOL)
    isolated = np.setdiff1d(np.arange(n), graph.receivers)
    np.testing.assert_array_equal(out.nodes[isolated], 0.0)


@pytest.mark.parametrize("self_edges,normalize", [(False, True), (True, True), (True, False)])
def test_graph_convolution(graph, self_edges, normalize):
    out, params = _apply(
        lambda: gn.GraphConvolution(
            linear_fn, add_self_edges=self_edges, symmetric_normalization=normalize
        ),
        graph,
    )
    n = graph.nodes.shape[0]
    h = ref.linear(graph.nodes, gn_testing.module_params(params, "node_model"))
    senders, receivers = graph.senders, graph.receivers
    if self_edges:
        senders, receivers = np.append(senders, np.arange(n)), np.append(receivers, np.arange(n))
    messages = h[senders]
    if normalize:
        out_deg = np.maximum(np.bincount(senders, minlength=n), 1)
        in_deg = np.maximum(np.bincount(receivers, minlength=n), 1)
        messages = messages / np.sqrt(out_deg[senders] * in_deg[receivers])[:, None]
    np.testing.assert_allclose(out.nodes, ref.reduce(messages, receivers, n, "sum"), **TOL)
    np.testing.assert_array_equal(out.edges, graph.edges)


def test_gat(graph):
    out, params = _apply(lambda: gn.GAT(linear_fn, lambda: layers.MLP([1]), linear_fn), graph)
    p = lambda name: gn_testing.module_params(params, name)
    n = graph.nodes.shape[0]
    queries = ref.linear(graph.nodes, p("query_model"))
    sent, received = queries[graph.senders], queries[graph.receivers]
    logits = ref.linear(np.concatenate([sent, received], axis=1), p("logit_model"))
    weights = ref.segment_softmax(logits, graph.receivers, n)
    expected = ref.linear(
        ref.reduce(sent * weights, graph.receivers, n, "sum"), p("gat/node_model")
    )
    np.testing.assert_allclose(out.nodes, expected, **TOL)
