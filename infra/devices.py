"""Data parallelism over devices: the project's one mesh helper.

Every sharded computation of the project (graph batches in `graphnets.parallel`, the JAX Hanabi's
games in `games.hanabi.jax_game.BatchedHanabi`, the Hanabi learner's games in `bad.hanabi.learner`)
splits its batch axis over a one-axis mesh named `DATA_AXIS` (`data_mesh`, `batch_sharding`) and
replicates everything else (`replicated_sharding`).

To try it on a CPU-only machine, set `XLA_FLAGS=--xla_force_host_platform_device_count=N` before
importing jax. The mesh may span the devices of several processes (after
`jax.distributed.initialize`, `jax.devices()` lists them all): `process_shards` says which
positions of the mesh this process holds, and `to_host` reads any array back whole. Every process
must make these calls together, in the same order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A one-axis mesh named `DATA_AXIS` over `devices` (default: all of them)."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), (DATA_AXIS,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Splits an array's leading (batch) axis over the mesh's `DATA_AXIS`."""
    return NamedSharding(mesh, PartitionSpec(DATA_AXIS))


def replicated_sharding(mesh: Mesh) -> NamedSharding:
    """A full copy on every device of the mesh."""
    return NamedSharding(mesh, PartitionSpec())


def process_shards(mesh: Mesh) -> list[int]:
    """Positions along the mesh's `DATA_AXIS` of the devices this process holds (all of them in
    a single-process run)."""
    return [i for i, device in enumerate(mesh.devices.flat)
            if device.process_index == jax.process_index()]


def largest_over_processes(value: int) -> int:
    """The largest `value` any process passes (e.g. a padding budget all shards must share)."""
    if jax.process_count() == 1:
        return value
    return int(np.max(multihost_utils.process_allgather(np.asarray([value]), tiled=True)))


def to_host(tree: Any) -> Any:
    """Numpy copies of a pytree's arrays, each whole, wherever its shards are."""
    def gather(leaf):
        if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
            return multihost_utils.process_allgather(leaf, tiled=True)
        return np.asarray(leaf)

    return jax.tree_util.tree_map(gather, tree)


def replicate(tree: Any, mesh: Mesh) -> Any:
    """Places a pytree (parameters, optimizer state) on every device of the mesh."""
    return jax.device_put(tree, replicated_sharding(mesh))
