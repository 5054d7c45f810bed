"""Multi-process runs on JAX's distributed runtime: the flags, their checks, and who writes.

Every process of a run is started with the same flags and the same `--output_dir` (on a file
system they all see) plus its own `--process_id`:

    python -m experiments.bad_hanabi ... --coordinator_address=HOST0:PORT --num_processes=2 \\
        --process_id=0    # on HOST0; --process_id=1 on the other host

`join_from_flags` checks the flags before any work (all three or none; none is a single-process
run), waits a bounded time for the coordinator (process 0) and calls `jax.distributed.initialize`.
From then on `jax.devices()` lists every process's devices, and the binaries' mesh
(`infra.devices.data_mesh`) spans them all. Every process runs the same program; only
`is_writer()` (process 0) writes files.
"""

from __future__ import annotations

import dataclasses
import socket
import time

import jax
import numpy as np
from absl import flags
from jax.experimental import multihost_utils

from experiments import common

flags.DEFINE_string("coordinator_address", None,
                    "HOST:PORT where process 0 serves JAX's distributed runtime; with "
                    "--num_processes and --process_id, this process joins a multi-process run. "
                    "Unset: one process.")
flags.DEFINE_integer("num_processes", None, "Processes of a multi-process run.")
flags.DEFINE_integer("process_id", None,
                     "This process's index in 0 .. --num_processes - 1 (0 is the coordinator).")
flags.DEFINE_integer("initialization_timeout", 300,
                     "Seconds a process of a multi-process run waits for the coordinator and the "
                     "other processes before it gives up.")
FLAGS = flags.FLAGS

_NAMES = ("coordinator_address", "num_processes", "process_id")
_POLL_SECONDS = 0.5


@dataclasses.dataclass(frozen=True)
class Cluster:
    """The checked distributed flags of one process."""

    host: str
    port: int
    num_processes: int
    process_id: int
    timeout: int

    @property
    def coordinator_address(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def split_address(address: str) -> tuple[str, int]:
    """(host, port) of `HOST:PORT` or `[IPV6]:PORT`; raises `ExperimentError` otherwise."""
    host, _, port = address.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise common.ExperimentError(
            f"--coordinator_address must be HOST:PORT with a port in 1-65535, got {address!r}.")
    return host, int(port)


def cluster_from_flags() -> Cluster | None:
    """The checked distributed flags; None when none is given (a single-process run)."""
    given = [name for name in _NAMES if FLAGS[name].value is not None]
    if not given:
        return None
    if len(given) < len(_NAMES):
        missing = ", ".join(f"--{name}" for name in _NAMES if name not in given)
        raise common.ExperimentError(
            f"a multi-process run needs --coordinator_address, --num_processes and --process_id "
            f"together; {missing} missing.")
    host, port = split_address(FLAGS.coordinator_address)
    common.check_positive(num_processes=FLAGS.num_processes,
                          initialization_timeout=FLAGS.initialization_timeout)
    if not 0 <= FLAGS.process_id < FLAGS.num_processes:
        raise common.ExperimentError(
            f"--process_id must be in [0, {FLAGS.num_processes - 1}] for --num_processes="
            f"{FLAGS.num_processes}, got {FLAGS.process_id}.")
    return Cluster(host, port, FLAGS.num_processes, FLAGS.process_id,
                   FLAGS.initialization_timeout)


def wait_for_coordinator(cluster: Cluster) -> None:
    """Returns once the coordinator's port accepts connections; raises `ExperimentError` after
    `cluster.timeout` seconds.

    JAX's own client aborts the process with a multi-line fatal log when it cannot connect, so a
    process other than the coordinator checks the port first.
    """
    deadline = time.monotonic() + cluster.timeout
    while True:
        try:
            with socket.create_connection((cluster.host, cluster.port), timeout=_POLL_SECONDS):
                return
        except OSError:
            if time.monotonic() >= deadline:
                raise common.ExperimentError(
                    f"process {cluster.process_id} cannot reach the coordinator at "
                    f"{cluster.coordinator_address} within --initialization_timeout="
                    f"{cluster.timeout} s; is process 0 running there?") from None
            time.sleep(_POLL_SECONDS)


def join(cluster: Cluster | None) -> None:
    """Joins the multi-process run `cluster` describes (nothing for None); before any JAX work."""
    if cluster is None:
        return
    if cluster.process_id:
        wait_for_coordinator(cluster)
    try:
        jax.distributed.initialize(cluster.coordinator_address, cluster.num_processes,
                                   cluster.process_id,
                                   initialization_timeout=cluster.timeout)
    except jax.errors.JaxRuntimeError as error:
        raise common.ExperimentError(
            f"process {cluster.process_id} cannot start JAX's distributed runtime at "
            f"{cluster.coordinator_address}: {common.one_line(error)}") from None


def join_from_flags() -> None:
    """`join(cluster_from_flags())`."""
    join(cluster_from_flags())


def is_writer() -> bool:
    """Whether this process writes the run's files (process 0; the only one of a 1-process run)."""
    return jax.process_index() == 0


def check_same_everywhere(value: int, what: str) -> None:
    """Raises `ExperimentError` unless every process holds the same `value` (e.g. the iteration
    it resumes from); a no-op in a single-process run. Every process must call it."""
    if jax.process_count() == 1:
        return
    values = multihost_utils.process_allgather(np.asarray([value]), tiled=True)
    if len(set(values.tolist())) > 1:
        raise common.ExperimentError(
            f"the processes disagree on {what} ({', '.join(map(str, values.tolist()))} for "
            "processes 0, 1, ...): give them one --output_dir on a file system they all see.")
