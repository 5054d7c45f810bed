"""EncodeProcessDecode and make_mlp."""

import gn_testing
import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import graphnets as gn
from graphnets import utils


def _model(edge_size, node_size, global_size):
    """`(init, apply)`: init(rng, graph) and a jitted apply(params, graph, num_processing_steps)."""
    net = hk.without_apply_rng(
        hk.transform(
            lambda g, n: gn.EncodeProcessDecode(
                edge_size, node_size, global_size, latent_size=8, num_layers=2
            )(g, n)
        )
    )
    # Parameters do not depend on the number of processing steps, so init runs one.
    return (lambda rng, g: net.init(rng, g, 1)), jax.jit(net.apply, static_argnums=2)


def test_encode_process_decode_shapes_and_missing_fields():
    graph = gn_testing.random_graph(np.random.default_rng(0), [3, 4], [5, 2])
    init, apply = _model(2, None, 1)
    outputs = apply(init(jax.random.PRNGKey(0), graph), graph, 3)
    assert len(outputs) == 3
    for out in outputs:
        assert out.edges.shape == (7, 2)
        assert out.nodes is None
        assert out.globals.shape == (2, 1)
        assert gn_testing.all_finite(out.edges)
    assert not np.allclose(outputs[0].edges, outputs[1].edges)


def test_encode_process_decode_accepts_missing_globals_and_edges():
    graph = gn_testing.random_graph(np.random.default_rng(1), [3, 2], [2, 2])._replace(
        globals=None, edges=None
    )
    init, apply = _model(1, 1, 1)
    outputs = apply(init(jax.random.PRNGKey(0), graph), graph, 2)
    assert outputs[-1].globals.shape == (2, 1) and outputs[-1].edges.shape == (4, 1)


def test_encode_process_decode_ignores_padding():
    graph = gn_testing.random_graph(np.random.default_rng(2), [3, 5, 1], [4, 6, 0])
    init, apply = _model(2, 3, 1)
    params = init(jax.random.PRNGKey(0), graph)
    plain = apply(params, graph, 2)[-1]
    padded = apply(params, utils.pad_to(graph, 16, 16, 5), 2)[-1]
    np.testing.assert_allclose(padded.nodes[:9], plain.nodes, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(padded.edges[:10], plain.edges, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(padded.globals[:3], plain.globals, rtol=1e-5, atol=1e-5)


def test_encode_process_decode_trains():
    graph = gn_testing.random_graph(np.random.default_rng(3), [4, 3], [5, 4])
    target = jnp.asarray(np.random.default_rng(4).normal(size=(7, 1)), jnp.float32)
    init, apply = _model(None, 1, None)
    params = init(jax.random.PRNGKey(0), graph)

    def loss(p):
        return sum(jnp.mean((out.nodes - target) ** 2) for out in apply(p, graph, 2))

    loss_and_grad = jax.jit(jax.value_and_grad(loss))
    before, grads = loss_and_grad(params)
    assert gn_testing.all_finite(grads)
    after, _ = loss_and_grad(jax.tree_util.tree_map(lambda p, g: p - 0.05 * g, params, grads))
    assert after < before


@pytest.mark.parametrize("layer_norm,activate_final", [(True, True), (False, False)])
def test_make_mlp(layer_norm, activate_final):
    mlp = hk.without_apply_rng(
        hk.transform(
            lambda x: gn.make_mlp(
                [5, 3], layer_norm=layer_norm, activate_final=activate_final, name="m"
            )()(x)
        )
    )
    x = jnp.ones((2, 4))
    params = mlp.init(jax.random.PRNGKey(0), x)
    out = mlp.apply(params, x)
    assert out.shape == (2, 3)
    assert ("m/~/layer_norm" in params) == layer_norm
    if activate_final and not layer_norm:
        assert np.all(out >= 0)


@pytest.mark.parametrize("reducer", [gn.blocks.segment_mean, gn.blocks.segment_max])
def test_encode_process_decode_with_size_invariant_reducer(reducer):
    # With mean or max aggregation, outputs do not change when a neighbourhood is repeated: a
    # star with 3 leaves gives the same outputs as one with 6 (all features identical).
    def star(leaves):
        return gn.utils.data_dicts_to_graphs_tuple(
            [
                {
                    "nodes": np.ones((leaves + 1, 2), np.float32),
                    "edges": np.ones((2 * leaves, 1), np.float32),
                    "senders": np.r_[np.zeros(leaves), np.arange(1, leaves + 1)].astype(np.int32),
                    "receivers": np.r_[np.arange(1, leaves + 1), np.zeros(leaves)].astype(np.int32),
                    "globals": np.zeros(1, np.float32),
                }
            ]
        )

    net = hk.without_apply_rng(
        hk.transform(
            lambda g: gn.EncodeProcessDecode(1, 1, 1, latent_size=8, reducer=reducer)(g, 2)
        )
    )
    params = net.init(jax.random.PRNGKey(0), star(3))
    small, large = net.apply(params, star(3))[-1], net.apply(params, star(6))[-1]
    np.testing.assert_allclose(small.nodes[0], large.nodes[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(small.globals, large.globals, rtol=1e-5, atol=1e-5)
