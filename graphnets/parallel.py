"""Data parallelism over devices for graph batches.

The mesh helpers (`data_mesh`, `batch_sharding`, `replicated_sharding`, `process_shards`,
`largest_over_processes`, `to_host`, `replicate`) live in `infra.devices`, shared with the JAX
Hanabi and the Hanabi learner, and are re-exported here.

Pad every batch to the same budget (`graphnets.utils.pad_to`), stack one
batch per shard with `shard_graphs`, and train with the step from
`data_parallel_train_step`: each device computes the gradient of its own
batches, the gradients are averaged across devices and every device
applies the same optimizer update, so parameters stay replicated.

To try it on a CPU-only machine, set
`XLA_FLAGS=--xla_force_host_platform_device_count=N` before importing jax.

The mesh may span the devices of several processes (after `jax.distributed.initialize`,
`jax.devices()` lists them all). Each process then passes `shard_graphs` only its own batches,
one per device it holds (`process_shards` says which), and the arrays are global
(`jax.make_array_from_process_local_data`); `to_host` reads any of them back whole. Every
process must make these calls together, in the same order.
"""

from collections.abc import Callable, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import jraph
import numpy as np
import optax
from jax.sharding import Mesh, PartitionSpec

# The mesh helpers live in `infra.devices` (games and bad use them too); re-exported here.
from infra.devices import (  # noqa: F401
    DATA_AXIS,
    batch_sharding,
    data_mesh,
    largest_over_processes,
    process_shards,
    replicate,
    replicated_sharding,
    to_host,
)

LossFn = Callable[[Any, jraph.GraphsTuple], jax.Array]
TrainStep = Callable[[Any, Any, jraph.GraphsTuple], tuple[Any, Any, jax.Array]]


def stack_graphs(graphs: Sequence[jraph.GraphsTuple]) -> jraph.GraphsTuple:
    """Stacks graphs of identical shapes (padded to one budget) along a new leading axis."""
    shapes = {tuple(np.shape(leaf) for leaf in jax.tree_util.tree_leaves(g)) for g in graphs}
    if len(shapes) != 1:
        raise ValueError(
            "stack_graphs() needs graphs padded to the same budget (their shapes differ)."
        )
    return jax.tree_util.tree_map(
        lambda *leaves: np.stack([np.asarray(x) for x in leaves]), *graphs
    )


def shard_graphs(graphs: Sequence[jraph.GraphsTuple], mesh: Mesh) -> jraph.GraphsTuple:
    """Stacks this process's padded graph batches and splits the global stack over the mesh.

    Process by process, the batches follow the order of `process_shards`; their number must be
    a multiple of the number of mesh devices the process holds (in a single-process run: all
    batches, a multiple of the number of devices). Any pytree of arrays stacks the same way.
    """
    num_devices = len(process_shards(mesh))
    if len(graphs) % num_devices:
        raise ValueError(
            f"{len(graphs)} graph batches cannot be split evenly over {num_devices} devices."
        )
    sharding = batch_sharding(mesh)
    return jax.tree_util.tree_map(
        lambda leaf: jax.make_array_from_process_local_data(sharding, leaf),
        stack_graphs(graphs))


def data_parallel_train_step(
    loss_fn: LossFn, optimizer: optax.GradientTransformation, mesh: Mesh
) -> TrainStep:
    """A jitted step `(params, opt_state, sharded_graphs) -> (params, opt_state, loss)`.

    `loss_fn(params, graph)` is the scalar loss of one padded batch. The step
    minimises the mean loss over all stacked batches: every batch weighs the
    same, whatever its number of real graphs.
    """

    def local_step(params, opt_state, graphs):
        def mean_loss(p):
            local_loss = jnp.mean(jax.vmap(loss_fn, in_axes=(None, 0))(p, graphs))
            return jax.lax.pmean(local_loss, DATA_AXIS)

        # The parameters are replicated, so shard_map's autodiff sums their
        # cotangents over devices: this is the average of the devices' gradients.
        loss, grads = jax.value_and_grad(mean_loss)(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    replicated, sharded = PartitionSpec(), PartitionSpec(DATA_AXIS)
    step = jax.shard_map(
        local_step,
        mesh=mesh,
        in_specs=(replicated, replicated, sharded),
        out_specs=(replicated, replicated, replicated),
    )
    return jax.jit(step)
