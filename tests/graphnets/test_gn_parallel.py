"""Data-parallel training over two forced host devices, in a fresh interpreter."""

import pathlib
import textwrap

SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, {tests_dir!r})
    import haiku as hk, jax, jax.numpy as jnp, numpy as np, optax
    import gn_testing
    import graphnets as gn
    from graphnets import parallel, utils

    assert jax.device_count() == 2, jax.devices()
    rng = np.random.default_rng(0)
    graphs = [utils.pad_to(gn_testing.random_graph(rng, [3, 4], [5, 3]), 12, 12, 4)
              for _ in range(4)]
    mlp = gn.make_mlp([8], layer_norm=False)
    net = hk.without_apply_rng(hk.transform(lambda g: gn.GraphNetwork(mlp, mlp, mlp)(g)))
    params = net.init(jax.random.PRNGKey(0), graphs[0])
    optimizer = optax.sgd(1.0)  # the update is the averaged gradient itself

    def loss_fn(p, g):
        return jnp.mean(net.apply(p, g).globals[:2] ** 2)

    mesh = parallel.data_mesh()
    sharded = parallel.shard_graphs(graphs, mesh)
    assert len(sharded.nodes.sharding.device_set) == 2
    step = parallel.data_parallel_train_step(loss_fn, optimizer, mesh)
    new_params, _, loss = step(parallel.replicate(params, mesh),
                               parallel.replicate(optimizer.init(params), mesh), sharded)

    mean_loss = lambda p: jnp.mean(jnp.stack([loss_fn(p, g) for g in graphs]))
    expected_loss, grads = jax.jit(jax.value_and_grad(mean_loss))(params)
    updates, _ = optimizer.update(grads, optimizer.init(params), params)
    expected = optax.apply_updates(params, updates)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    close = lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    jax.tree_util.tree_map(close, new_params, expected)
    print("DATA_PARALLEL_OK")
""")


def test_data_parallel_step_matches_single_device_mean_gradient(run_on_two_host_devices):
    code = SCRIPT.format(tests_dir=str(pathlib.Path(__file__).parent))
    assert "DATA_PARALLEL_OK" in run_on_two_host_devices(code)
