"""Symmetry, padding and transformation properties of the modules."""

import gn_testing
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphnets as gn
from graphnets import utils

N_NODE, N_EDGE = [4, 0, 5, 3], [7, 0, 0, 5]
TOL = dict(rtol=1e-4, atol=1e-5)
MLP = gn.make_mlp([6, 6])
REDUCERS = [gn.segment_sum, gn.segment_mean, gn.segment_max, gn.segment_min]


def _graph_network(reducer=gn.segment_sum):
    return lambda g: gn.GraphNetwork(MLP, MLP, MLP, reducer=reducer)(g)


def _node_only_modules():
    """Modules (as functions of a graph) that update nodes from the connectivity."""
    return {
        "gcn": lambda g: gn.GraphConvolution(MLP, add_self_edges=True)(g),
        "gat": lambda g: gn.GAT(MLP, gn.make_mlp([1], layer_norm=False, activate_final=False), MLP)(
            g
        ),
        "interaction": lambda g: gn.InteractionNetwork(MLP, MLP)(g),
        "comm_net": lambda g: gn.CommNet(MLP, MLP, MLP)(g),
    }


def _transform(fn):
    return hk.without_apply_rng(hk.transform(fn))


def _permute_within_graphs(rng, counts):
    """A permutation of rows that keeps every row inside its graph."""
    starts = np.concatenate([[0], np.cumsum(counts)])
    return np.concatenate(
        [start + rng.permutation(c) for start, c in zip(starts[:-1], counts)]
    ).astype(np.int32)


@pytest.mark.parametrize("reducer", REDUCERS)
def test_graph_network_is_permutation_equivariant(reducer):
    rng = np.random.default_rng(0)
    graph = gn_testing.random_graph(rng, N_NODE, N_EDGE)
    node_perm, edge_perm = _permute_within_graphs(rng, N_NODE), _permute_within_graphs(rng, N_EDGE)
    new_index = np.argsort(node_perm)  # old node i is new node new_index[i]
    permuted = graph._replace(
        nodes=graph.nodes[node_perm],
        edges=graph.edges[edge_perm],
        senders=new_index[graph.senders[edge_perm]].astype(np.int32),
        receivers=new_index[graph.receivers[edge_perm]].astype(np.int32),
    )
    net = _transform(_graph_network(reducer))
    params = net.init(jax.random.PRNGKey(0), graph)
    out, out_perm = net.apply(params, graph), net.apply(params, permuted)
    np.testing.assert_allclose(out_perm.nodes, out.nodes[node_perm], **TOL)
    np.testing.assert_allclose(out_perm.edges, out.edges[edge_perm], **TOL)
    np.testing.assert_allclose(out_perm.globals, out.globals, **TOL)


@pytest.mark.parametrize("reducer", REDUCERS)
def test_padding_leaves_real_graphs_unchanged(reducer):
    graph = gn_testing.random_graph(np.random.default_rng(1), N_NODE, N_EDGE)
    padded = utils.pad_to(graph, 20, 16, 7)
    real = np.asarray(utils.node_mask(padded, 4))
    assert real.sum() == 12 and np.asarray(utils.edge_mask(padded, 4)).sum() == 12
    np.testing.assert_array_equal(utils.graph_mask(padded, 4), [1, 1, 1, 1, 0, 0, 0])
    net = _transform(_graph_network(reducer))
    params = net.init(jax.random.PRNGKey(0), graph)
    out, out_padded = net.apply(params, graph), jax.jit(net.apply)(params, padded)
    np.testing.assert_allclose(out_padded.nodes[:12], out.nodes, **TOL)
    np.testing.assert_allclose(out_padded.edges[:12], out.edges, **TOL)
    np.testing.assert_allclose(out_padded.globals[:4], out.globals, **TOL)


@pytest.mark.parametrize("name", sorted(_node_only_modules()))
def test_padding_leaves_real_nodes_unchanged_in_other_modules(name):
    graph = gn_testing.random_graph(np.random.default_rng(2), N_NODE, N_EDGE)
    net = _transform(_node_only_modules()[name])
    params = net.init(jax.random.PRNGKey(0), graph)
    out = net.apply(params, graph)
    out_padded = net.apply(params, utils.pad_to(graph, 16, 16, 5))
    np.testing.assert_allclose(out_padded.nodes[:12], out.nodes, **TOL)


def test_batches_without_edges_or_nodes():
    rng = np.random.default_rng(3)
    no_edges = gn_testing.random_graph(rng, [3, 2], [0, 0])
    no_nodes = gn_testing.random_graph(rng, [0, 0], [0, 0])
    net = _transform(_graph_network(gn.segment_max))
    params = net.init(jax.random.PRNGKey(0), no_edges)
    for graph in (no_edges, no_nodes):
        out = jax.jit(net.apply)(params, graph)
        assert out.nodes.shape == (graph.nodes.shape[0], 6) and out.edges.shape == (0, 6)
        assert out.globals.shape == (2, 6) and gn_testing.all_finite(out)


def test_jit_grad_and_vmap():
    rng = np.random.default_rng(4)
    graphs = [
        utils.pad_to(gn_testing.random_graph(rng, n, e), 16, 16, 4)
        for n, e in [([3, 4], [5, 2]), ([6, 1, 2], [4, 0, 3])]
    ]
    stacked = jax.tree_util.tree_map(lambda *xs: np.stack(xs), *graphs)
    net = _transform(_graph_network(gn.segment_mean))
    params = net.init(jax.random.PRNGKey(0), graphs[0])

    def loss(p, g):
        out = net.apply(p, g)
        return jnp.sum(out.globals**2) + jnp.sum(out.nodes**2) + jnp.sum(out.edges**2)

    batched = jax.jit(jax.vmap(net.apply, in_axes=(None, 0)))(params, stacked)
    for i, graph in enumerate(graphs):
        single = net.apply(params, graph)
        for field in ("nodes", "edges", "globals"):
            np.testing.assert_allclose(getattr(batched, field)[i], getattr(single, field), **TOL)
    closed_over = jax.jit(lambda p: net.apply(p, graphs[0]))(
        params
    )  # numpy graph as compile-time constants
    np.testing.assert_allclose(closed_over.nodes, batched.nodes[0], **TOL)
    grads = jax.jit(jax.vmap(jax.grad(loss), in_axes=(None, 0)))(params, stacked)
    assert gn_testing.all_finite(grads)
    assert any(np.any(leaf != 0) for leaf in jax.tree_util.tree_leaves(grads))


@pytest.mark.parametrize("name", sorted(_node_only_modules()))
def test_other_modules_jit_and_grad(name):
    graph = utils.pad_to(gn_testing.random_graph(np.random.default_rng(5), [3, 4], [5, 2]), 9, 8, 3)
    net = _transform(_node_only_modules()[name])
    params = net.init(jax.random.PRNGKey(0), graph)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(net.apply(p, graph).nodes ** 2)))(params)
    assert gn_testing.all_finite(grads)
    np.testing.assert_allclose(
        jax.jit(net.apply)(params, graph).nodes, net.apply(params, graph).nodes, **TOL
    )


def test_self_attention_under_jit_vmap_grad():
    rng = np.random.default_rng(6)
    graph = utils.pad_to(gn_testing.random_graph(rng, [3, 4], [5, 2]), 9, 8, 3)
    qkv = jnp.asarray(rng.normal(size=(2, 9, 2, 3)), jnp.float32)

    def attend(x):
        return jnp.sum(gn.SelfAttention()(x, x, x, graph).nodes ** 2)

    net = _transform(lambda x: jax.vmap(attend)(x))
    params = net.init(jax.random.PRNGKey(0), qkv)
    grads = jax.jit(jax.grad(lambda x: jnp.sum(net.apply(params, x))))(qkv)
    assert gn_testing.all_finite(grads)
