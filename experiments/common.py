"""Shared I/O for the experiment binaries: flag checks, output files, checkpoints, progress.

The library packages never print or write files; everything of that kind lives here so that
every binary behaves the same way:

* `fail(message)` ends the program with one line on stderr and exit status 1 (no traceback).
  `run_main(main)` wraps `app.run` so that a `UsageError` or `ValueError` raised while checking
  flags or inputs is reported that way too.
* `prepare_output_dir(path)` checks the directory can be written before any work starts.
* `write_json`, `write_csv` and `save_checkpoint` write atomically (temporary file + rename), so a
  killed run never leaves a half-written file behind.
* Checkpoints are plain `.npz` files (never pickle): a flat dict of arrays, plus a JSON `config`
  that `load_checkpoint` compares with the running configuration.
"""

from __future__ import annotations

import csv
import json
import math
import os
import sys
import tempfile
import time
from typing import Any, Callable, Iterable, Mapping, Sequence

import jax
import numpy as np
from absl import app

CHECKPOINT_NAME = "checkpoint.npz"


class ExperimentError(ValueError):
    """A user-facing problem with flags, files or inputs; reported as one line."""


def fail(message: str) -> None:
    """Prints `message` as one line on stderr and exits with status 1."""
    print(f"error: {message}", file=sys.stderr)
    sys.exit(1)


def run_main(main: Callable[[Sequence[str]], Any]) -> None:
    """`app.run(main)`, turning flag and input errors into one line on stderr and exit 1."""

    def guarded(argv: Sequence[str]) -> Any:
        try:
            return main(argv)
        except (ValueError, app.UsageError, OSError) as error:
            fail(str(error))

    app.run(guarded)


def check_positive(**values: float) -> None:
    """Raises `ExperimentError` naming the first flag that is not strictly positive."""
    for name, value in values.items():
        if not value > 0:
            raise ExperimentError(f"--{name} must be positive, got {value}.")


def check_fraction(**values: float) -> None:
    """Raises `ExperimentError` naming the first flag that is not in [0, 1]."""
    for name, value in values.items():
        if not 0 <= value <= 1:
            raise ExperimentError(f"--{name} must be in [0, 1], got {value}.")


def check_range(name: str, low: int, high: int) -> None:
    """Raises `ExperimentError` unless `1 <= low <= high` for a `--min_<name>/--max_<name>` pair."""
    if low < 1:
        raise ExperimentError(f"--min_{name} must be at least 1, got {low}.")
    if low > high:
        raise ExperimentError(f"--min_{name} ({low}) is above --max_{name} ({high}).")


def prepare_output_dir(path: str) -> str:
    """Creates `path` if needed and checks it is writable; returns its absolute path."""
    path = os.path.abspath(os.path.expanduser(path))
    try:
        os.makedirs(path, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".write-test-"):
            pass
    except OSError as error:
        raise ExperimentError(
            f"--output_dir {path} cannot be written: {error.strerror or error}."
        ) from None
    return path


def _atomic_write(path: str, write: Callable[[Any], None], mode: str = "w") -> None:
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-", suffix=os.path.basename(path))
    try:
        with os.fdopen(fd, mode) as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _to_builtin(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _to_builtin(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_builtin(v) for v in value]
    if isinstance(value, (np.ndarray, jax.Array)):
        return _to_builtin(np.asarray(value).tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str, data: Mapping[str, Any]) -> None:
    """Writes `data` (numpy and JAX values allowed) as indented JSON, atomically."""
    text = json.dumps(_to_builtin(data), indent=2, sort_keys=False) + "\n"
    _atomic_write(path, lambda handle: handle.write(text))


def write_csv(path: str, rows: Sequence[Mapping[str, Any]]) -> None:
    """Writes a list of dicts (one per logged step) as CSV with a header, atomically."""
    fields: list[str] = []
    for row in rows:
        fields.extend(k for k in row if k not in fields)

    def write(handle: Any) -> None:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _to_builtin(v) for k, v in row.items()})

    _atomic_write(path, write)


def read_csv(path: str) -> list[dict[str, float]]:
    """Reads a CSV written by `write_csv` back as a list of dicts of floats."""
    with open(path, newline="") as handle:
        return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def save_checkpoint(path: str, tree: Any, config: Mapping[str, Any]) -> None:
    """Saves a pytree of arrays and its `config` to an `.npz` file, atomically.

    The tree structure is not stored: `load_checkpoint` restores the leaves into a template tree
    of the same structure, which the caller builds from its own configuration.
    """
    leaves = jax.tree_util.tree_leaves(tree)
    arrays = {f"leaf_{i:05d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    arrays["config"] = np.asarray(json.dumps(_to_builtin(config), sort_keys=True))
    arrays["num_leaves"] = np.asarray(len(leaves))
    _atomic_write(path, lambda handle: np.savez(handle, **arrays), mode="wb")


def load_checkpoint(path: str, template: Any, config: Mapping[str, Any]) -> Any:
    """Loads a checkpoint written by `save_checkpoint` into the structure of `template`.

    Raises `ExperimentError` when the file is missing, unreadable, not one of ours, or written
    with a different configuration or tree (names the first differing setting).
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise ExperimentError(f"checkpoint {path} does not exist.") from None
    except Exception as error:  # zipfile, EOF and format errors all mean the same to a user.
        raise ExperimentError(f"checkpoint {path} is not a readable .npz file ({error}).") from None
    if "config" not in stored or "num_leaves" not in stored:
        raise ExperimentError(f"checkpoint {path} was not written by this project.")
    saved_config = json.loads(str(stored["config"]))
    wanted = _to_builtin(config)
    for key in sorted(set(saved_config) | set(wanted)):
        if saved_config.get(key) != wanted.get(key):
            raise ExperimentError(
                f"checkpoint {path} was written with {key}={saved_config.get(key)!r}, "
                f"but this run has {key}={wanted.get(key)!r}."
            )
    leaves, treedef = jax.tree_util.tree_flatten(template)
    if int(stored["num_leaves"]) != len(leaves):
        raise ExperimentError(f"checkpoint {path} holds a different model ({path} has "
                              f"{int(stored['num_leaves'])} arrays, expected {len(leaves)}).")
    restored = []
    for i, leaf in enumerate(leaves):
        value = stored[f"leaf_{i:05d}"]
        if value.shape != np.shape(leaf):
            raise ExperimentError(
                f"checkpoint {path} array {i} has shape {value.shape}, expected {np.shape(leaf)}."
            )
        restored.append(value.astype(np.asarray(leaf).dtype))
    return jax.tree_util.tree_unflatten(treedef, restored)


class Progress:
    """Prints `step/total, steps/s, ETA, metrics` lines at most every `every_seconds`."""

    def __init__(self, total: int, start: int = 0, every_seconds: float = 10.0):
        self.total, self.start, self.every = total, start, every_seconds
        self.t0 = self.last = time.perf_counter()

    def update(self, step: int, metrics: Mapping[str, float], force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self.last < self.every:
            return
        self.last = now
        rate = (step - self.start) / max(now - self.t0, 1e-9)
        eta = (self.total - step) / rate if rate > 0 else float("inf")
        shown = " ".join(f"{k}={v:.4g}" for k, v in metrics.items())
        print(f"step {step}/{self.total}  {rate:,.1f} steps/s  ETA {eta:,.0f}s  {shown}",
              flush=True)


def format_table(rows: Iterable[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain-text table, right-aligned numbers, for printing results."""
    cells = [list(map(str, header))] + [
        [f"{c:.4g}" if isinstance(c, float) else str(c) for c in row] for row in rows
    ]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
