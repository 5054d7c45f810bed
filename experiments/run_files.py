"""A run's output folder and the files in it: one owner, atomic writes, no leftovers.

* `prepare_output_dir(path)` creates the folder, checks it can be written, takes its lock and
  removes the temporary files a killed write left behind, all before any work starts:
  - the lock is `LOCK_NAME`, a file holding its owner's process id under an exclusive
    `fcntl.flock`. A second run on a folder whose owner is alive is refused in one line; the
    kernel drops the flock when its owner dies, SIGKILL included, so a dead owner's lock is
    taken over. The lock is released (and the file removed) when `main` ends or the process
    exits. Only the writing process of a multi-process run takes it (`writer=False` for the
    others, which write nothing).
  - stale temporary files are `atomic_write`'s `.tmp-*` and the write test's `.write-test-*`;
    they can only be left by a killed run, since the lock shows no live run writes here.
* `write_json`, `write_csv` write atomically (temporary file + rename, with the permissions the
  process umask gives), so a killed run never leaves a half-written file behind. A non-finite
  metric is written as `nan`/`inf` in CSV (and read back by `read_csv`) and as `null` in JSON.
"""

from __future__ import annotations

import atexit
import contextlib
import csv
import errno
import fcntl
import json
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np

from experiments import common
from experiments.common import ExperimentError, one_line
from infra.files import TEMP_PREFIX, atomic_write

METRICS_NAME = "metrics.csv"
LOCK_NAME = ".lock"
STALE_PREFIXES = (TEMP_PREFIX, ".write-test-")  # atomic_write's and prepare_output_dir's

_held_locks: dict[str, int] = {}  # output folder -> descriptor of its locked LOCK_NAME


def prepare_output_dir(path: str, writer: bool = True) -> str:
    """Creates `path` if needed, checks it is writable and, for the `writer`, takes its lock and
    removes stale temporary files; returns its absolute path."""
    if not path:
        raise ExperimentError("--output_dir must name a directory, got an empty string.")
    path = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(path, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".write-test-")
        os.close(fd)
        # Another process's `remove_stale_files` may have taken it already.
        with contextlib.suppress(FileNotFoundError):
            os.unlink(probe)
    except OSError as error:
        raise ExperimentError(
            f"--output_dir {path} cannot be written: {error.strerror or error}."
        ) from None
    if writer:
        lock_output_dir(path)
        remove_stale_files(path)
    return path


def _owner(lock_path: str) -> str:
    """The process id a lock file names, for messages ("unknown" when unreadable)."""
    try:
        with open(lock_path) as handle:
            return handle.read().strip() or "unknown"
    except OSError:
        return "unknown"


def lock_output_dir(path: str) -> None:
    """Takes the lock of output folder `path` for this process (again: a no-op).

    Raises `ExperimentError` naming the owner when another live process holds it.
    """
    if path in _held_locks:
        return
    lock_path = os.path.join(path, LOCK_NAME)
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno not in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                raise ExperimentError(f"--output_dir {path} cannot be locked: "
                                      f"{error.strerror or error}.") from None
            raise ExperimentError(
                f"--output_dir {path} is in use by a running process (pid "
                f"{_owner(lock_path)}, {lock_path}); wait for it to end or choose another "
                "--output_dir.") from None
        # The owner we waited out may have removed the file between our open and our flock:
        # then our lock is on a deleted file, and we lock the file now at the path instead.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(lock_path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    _held_locks[path] = fd


def release_output_dirs() -> None:
    """Removes and unlocks every output folder lock this process holds."""
    for path, fd in list(_held_locks.items()):
        with contextlib.suppress(OSError):  # removed while still locked: nobody else holds it
            os.unlink(os.path.join(path, LOCK_NAME))
        os.close(fd)
        del _held_locks[path]


atexit.register(release_output_dirs)
common.AFTER_MAIN.append(release_output_dirs)


def remove_stale_files(path: str) -> list[str]:
    """Removes the temporary files killed writes left in `path`; returns their names."""
    removed = []
    for entry in os.scandir(path):
        if entry.name.startswith(STALE_PREFIXES) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                removed.append(entry.name)
            except FileNotFoundError:
                pass
    return sorted(removed)


def to_builtin(value: Any, finite_only: bool) -> Any:
    """Python lists, dicts and scalars; non-finite floats become None when `finite_only`."""
    if isinstance(value, Mapping):
        return {str(k): to_builtin(v, finite_only) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_builtin(v, finite_only) for v in value]
    if isinstance(value, (np.ndarray, jax.Array)):
        return to_builtin(np.asarray(value).tolist(), finite_only)
    if isinstance(value, np.generic):
        value = value.item()
    if finite_only and isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str, data: Mapping[str, Any]) -> None:
    """Writes `data` (numpy and JAX values allowed, non-finite floats as null) as JSON."""
    text = json.dumps(to_builtin(data, finite_only=True), indent=2, sort_keys=False) + "\n"
    atomic_write(path, lambda handle: handle.write(text))


def write_csv(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Writes a list of dicts (one per logged step) as CSV with a header, atomically."""
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)

    def write(handle: Any) -> None:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: to_builtin(v, finite_only=False) for k, v in row.items()})

    atomic_write(path, write)


def read_csv(path: str) -> list[dict[str, float]]:
    """Reads a CSV written by `write_csv` back as a list of dicts of floats.

    Raises `ExperimentError` naming the file, line and column of anything that is not a number.
    """
    rows = []
    try:
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            for line, row in enumerate(reader, start=2):
                if None in row or None in row.values():
                    raise ExperimentError(f"{path} line {line} does not have one value for each "
                                          f"of the {len(reader.fieldnames or [])} columns.")
                try:
                    rows.append({k: float(v) for k, v in row.items()})
                except ValueError:
                    column = next(k for k, v in row.items() if not _is_number(v))
                    raise ExperimentError(f"{path} line {line}, column {column}: "
                                          f"{row[column]!r} is not a number.") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise ExperimentError(f"{path} cannot be read as CSV ({one_line(error)}).") from None
    return rows


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
