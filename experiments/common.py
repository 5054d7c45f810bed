"""Shared I/O for the experiment binaries: flags, output files, checkpoints, plots, progress.

The library packages never print or write files; everything of that kind lives here so that
every binary behaves the same way:

* `run_main(main)` wraps `app.run`: absl's own parse errors (unknown flag, bad enum, non-integer),
  stray positional arguments and non-finite float flags end the program before `main` starts,
  and a `UsageError`, `ValueError` or `OSError` raised by `main` is reported the same way:
  `fail(message)`, one line on stderr and exit status 1, never a traceback.
* `prepare_output_dir(path)` checks the directory can be written before any work starts.
* `write_json`, `write_csv`, `save_checkpoint` and `save_figure` write atomically (temporary
  file + rename, with the permissions the process umask gives), so a killed run never leaves a
  half-written file behind. A non-finite metric is written as `nan`/`inf` in CSV (and read back
  by `read_csv`) and as `null` in JSON.
* Checkpoints are plain `.npz` files (never pickle): a flat list of arrays plus a JSON `config`
  holding `FORMAT_VERSION`; `load_checkpoint` refuses a file that is unreadable, foreign, of
  another format version or written with another configuration, naming the file and the problem.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import sys
import tempfile
import time
import types
import typing
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any, NamedTuple, TypeVar

import jax
import numpy as np
from absl import app, flags

from infra.files import atomic_write

CHECKPOINT_NAME = "checkpoint.npz"
METRICS_NAME = "metrics.csv"
# The layout of a checkpoint's config: 2 stores the config dataclasses (`dataclasses.asdict`).
FORMAT_VERSION = 2
SEED_MAX = 2**31 - 1  # jax keys and numpy seeds of every binary stay distinct up to here

T = TypeVar("T")


class ExperimentError(ValueError):
    """A user-facing problem with flags, files or inputs; reported as one line."""


def one_line(text: Any) -> str:
    """`text` with every run of whitespace (newlines included) turned into one space."""
    return " ".join(str(text).split())


def fail(message: Any) -> None:
    """Prints `message` as one line on stderr and exits with status 1."""
    print(f"error: {one_line(message)}", file=sys.stderr, flush=True)
    sys.exit(1)


def parse_flags(argv: Sequence[str]) -> list[str]:
    """absl's flag parsing, with every refusal reported by `fail` before any work starts.

    Refused: absl's parse errors, positional arguments after the program name, and float flags
    that are not finite (`--learning_rate=inf`). Returns `argv` less the flags.
    """
    try:
        rest = flags.FLAGS(list(argv))
    except flags.Error as error:
        fail(error)
    if len(rest) > 1:
        fail(f"unexpected positional arguments {' '.join(rest[1:])!r}; flags are written "
             "--name=value.")
    for name in flags.FLAGS:
        value = flags.FLAGS[name].value
        if isinstance(value, float) and not math.isfinite(value):
            fail(f"--{name} must be a finite number, got {value}.")
    return rest


def _guarded(main: Callable[[Sequence[str]], Any], argv: Sequence[str]) -> Any:
    try:
        return main(argv)
    except (ValueError, app.UsageError, OSError) as error:
        fail(error)


def run_main(main: Callable[[Sequence[str]], Any]) -> None:
    """`app.run(main)` with `parse_flags` and one-line errors (see the module docstring)."""
    app.run(lambda argv: _guarded(main, argv), flags_parser=parse_flags)


def run_in_process(main: Callable[[Sequence[str]], Any], argv: Sequence[str]) -> Any:
    """What `run_main` does, from default flag values, without `app.run`'s once-per-process setup.

    For tests that try many command lines of one binary in one interpreter.
    """
    flags.FLAGS.unparse_flags()
    return _guarded(main, parse_flags(argv))


def check_positive(**values: float) -> None:
    """Raises `ExperimentError` naming the first flag that is not strictly positive."""
    for name, value in values.items():
        if not value > 0:
            raise ExperimentError(f"--{name} must be positive, got {value}.")


def check_non_negative(**values: float) -> None:
    """Raises `ExperimentError` naming the first flag that is negative."""
    for name, value in values.items():
        if not value >= 0:
            raise ExperimentError(f"--{name} must be at least 0, got {value}.")


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


def check_seed(value: int, name: str = "seed") -> None:
    """Raises `ExperimentError` unless `0 <= value <= SEED_MAX`."""
    if not 0 <= value <= SEED_MAX:
        raise ExperimentError(f"--{name} must be in [0, {SEED_MAX}], got {value}.")


def int_list(name: str, values: Sequence[str], minimum: int) -> tuple[int, ...]:
    """List flag `--name` as ints; raises `ExperimentError` unless each is at least `minimum`."""
    try:
        numbers = tuple(int(value) for value in values)
    except ValueError:
        raise ExperimentError(
            f"--{name} must be integers, got {','.join(values)}.") from None
    if not numbers or min(numbers) < minimum:
        raise ExperimentError(f"--{name} must be at least {minimum} each (and not empty), "
                              f"got {','.join(values)}.")
    return numbers


def check_unique(name: str, values: Sequence[Any]) -> None:
    """Raises `ExperimentError` naming the first entry of list flag `--name` given twice."""
    seen = set()
    for value in values:
        if value in seen:
            raise ExperimentError(f"--{name} lists {value} twice; give each entry once.")
        seen.add(value)


def prepare_output_dir(path: str) -> str:
    """Creates `path` if needed and checks it is writable; returns its absolute path."""
    if not path:
        raise ExperimentError("--output_dir must name a directory, got an empty string.")
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


def _to_builtin(value: Any, finite_only: bool) -> Any:
    """Python lists, dicts and scalars; non-finite floats become None when `finite_only`."""
    if isinstance(value, Mapping):
        return {str(k): _to_builtin(v, finite_only) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_builtin(v, finite_only) for v in value]
    if isinstance(value, (np.ndarray, jax.Array)):
        return _to_builtin(np.asarray(value).tolist(), finite_only)
    if isinstance(value, np.generic):
        value = value.item()
    if finite_only and isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str, data: Mapping[str, Any]) -> None:
    """Writes `data` (numpy and JAX values allowed, non-finite floats as null) as JSON."""
    text = json.dumps(_to_builtin(data, finite_only=True), indent=2, sort_keys=False) + "\n"
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
            writer.writerow({k: _to_builtin(v, finite_only=False) for k, v in row.items()})

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


def require_finite(row: Mapping[str, float], names: Sequence[str], where: str) -> None:
    """Raises `ExperimentError` if a training metric of a logged row is NaN or infinite."""
    for name in names:
        if not math.isfinite(row[name]):
            raise ExperimentError(
                f"training diverged: {name} is {row[name]} at {where} ({METRICS_NAME} holds the "
                "rows up to there; no checkpoint is written after them); try a lower "
                "--learning_rate.")


def save_checkpoint(path: str, tree: Any, config: Mapping[str, Any]) -> None:
    """Saves a pytree of arrays and its `config` to an `.npz` file, atomically.

    The tree structure is not stored: `load_checkpoint` restores the leaves into a template tree
    of the same structure, which the caller builds from its own configuration. `config` should
    hold `format_version: FORMAT_VERSION` (see `read_checkpoint`).
    """
    leaves = jax.tree_util.tree_leaves(tree)
    arrays = {f"leaf_{i:05d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    arrays["config"] = np.asarray(json.dumps(_to_builtin(config, finite_only=True),
                                             sort_keys=True))
    arrays["num_leaves"] = np.asarray(len(leaves))
    atomic_write(path, lambda handle: np.savez(handle, **arrays), mode="wb")


class Checkpoint(NamedTuple):
    """A checkpoint's config (a JSON object) and its arrays, in `save_checkpoint`'s order."""

    config: dict[str, Any]
    leaves: list[np.ndarray]


def read_checkpoint(path: str) -> Checkpoint:
    """Reads a checkpoint written by `save_checkpoint` at `FORMAT_VERSION`.

    Raises `ExperimentError`, naming `path` and the problem, when the file is missing, not an
    `.npz` of plain arrays (truncated, random, pickled), not one of ours, holds a config that is
    not a JSON object, is of another format version, or lacks one of its arrays.
    """
    try:
        with np.load(path, allow_pickle=False) as data:
            stored = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise ExperimentError(f"checkpoint {path} does not exist.") from None
    except ValueError as error:
        if "pickle" not in str(error):
            raise ExperimentError(
                f"checkpoint {path} is not a readable .npz file ({one_line(error)}).") from None
        raise ExperimentError(f"checkpoint {path} is not a readable .npz file of plain arrays "
                              "(numpy would read it as a pickle, which is never loaded).") from None
    except Exception as error:  # zipfile, EOF and format errors mean the same to a user.
        raise ExperimentError(
            f"checkpoint {path} is not a readable .npz file ({one_line(error)}).") from None
    if "config" not in stored or "num_leaves" not in stored:
        raise ExperimentError(f"checkpoint {path} is not a readable checkpoint: it was not "
                              "written by this project (it has no config and num_leaves).")
    config = _stored_config(path, stored["config"])
    count = stored["num_leaves"]
    if count.shape != () or count.dtype.kind not in "iu" or count < 0:
        raise ExperimentError(f"checkpoint {path} has num_leaves {count!r}, expected a count.")
    leaves = []
    for i in range(int(count)):
        name = f"leaf_{i:05d}"
        if name not in stored:
            raise ExperimentError(f"checkpoint {path} lacks array {name} of its {int(count)}.")
        leaves.append(stored[name])
    return Checkpoint(config, leaves)


def _stored_config(path: str, value: np.ndarray) -> dict[str, Any]:
    """The checked JSON object of a checkpoint's `config` entry."""
    if value.shape != () or value.dtype.kind != "U":
        raise ExperimentError(f"checkpoint {path} has a config that is not a JSON string.")
    try:
        config = json.loads(str(value))
    except json.JSONDecodeError as error:
        raise ExperimentError(f"checkpoint {path} has a config that is not valid JSON "
                              f"({error.msg} at character {error.pos}).") from None
    if not isinstance(config, dict):
        raise ExperimentError(f"checkpoint {path} has a config that is a JSON "
                              f"{type(config).__name__}, expected an object.")
    version = config.get("format_version")
    if version != FORMAT_VERSION:
        shown = "1 (none recorded)" if version is None else repr(version)
        raise ExperimentError(
            f"checkpoint {path} has format version {shown}, but this code reads format version "
            f"{FORMAT_VERSION} only; retrain, or use the code that wrote it.")
    return config


def _flatten(config: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested dicts as one dict with dotted keys (`agent.hidden_sizes`)."""
    flat = {}
    for key, value in config.items():
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def check_config(path: str, saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> None:
    """Raises `ExperimentError` naming the first setting where `saved` and `wanted` differ."""
    saved_flat = _flatten(saved)
    wanted_flat = _flatten(_to_builtin(wanted, finite_only=True))
    missing = "(none)"
    for key in sorted(set(saved_flat) | set(wanted_flat)):
        old, new = saved_flat.get(key, missing), wanted_flat.get(key, missing)
        if old != new or isinstance(old, bool) != isinstance(new, bool):
            raise ExperimentError(f"checkpoint {path} was written with {key}={old!r}, "
                                  f"but this run has {key}={new!r}.")


def restore(path: str, checkpoint: Checkpoint, template: Any) -> Any:
    """The checkpoint's arrays in the structure and dtypes of `template`.

    Raises `ExperimentError` when the number, a shape or a dtype kind of the arrays differs.
    """
    expected, treedef = jax.tree_util.tree_flatten(template)
    if len(checkpoint.leaves) != len(expected):
        raise ExperimentError(f"checkpoint {path} holds a different model "
                              f"({len(checkpoint.leaves)} arrays, expected {len(expected)}).")
    restored = []
    for i, (value, leaf) in enumerate(zip(checkpoint.leaves, expected)):
        leaf = np.asarray(leaf)
        if value.shape != leaf.shape:
            raise ExperimentError(
                f"checkpoint {path} array {i} has shape {value.shape}, expected {leaf.shape}.")
        if not np.can_cast(value.dtype, leaf.dtype, casting="same_kind"):
            raise ExperimentError(
                f"checkpoint {path} array {i} has dtype {value.dtype}, expected {leaf.dtype}.")
        restored.append(value.astype(leaf.dtype))
    return jax.tree_util.tree_unflatten(treedef, restored)


def check_resumable(path: str, config: Mapping[str, Any]) -> None:
    """Refuses, before the model is built, a checkpoint at `path` written with another config."""
    if os.path.exists(path):
        check_config(path, read_checkpoint(path).config, config)


def load_checkpoint(path: str, template: Any, config: Mapping[str, Any]) -> Any:
    """`read_checkpoint`, `check_config` against `config`, then `restore` into `template`."""
    checkpoint = read_checkpoint(path)
    check_config(path, checkpoint.config, config)
    return restore(path, checkpoint, template)


def _matches(hint: Any, value: Any) -> bool:
    """Whether a JSON value fits a simple field type (unknown types are not checked)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(arg, value) for arg in args)
    if hint is type(None):
        return value is None
    if origin is tuple:
        if not isinstance(value, list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(args[0], v) for v in value)
        return len(args) == len(value) and all(map(_matches, args, value))
    return True


def dataclass_from_dict(cls: type[T], data: Any, path: str, prefix: str = "") -> T:
    """Rebuilds dataclass `cls` from the `dataclasses.asdict` stored in checkpoint `path`.

    Nested dataclass fields are rebuilt too and lists become tuples where the field is a tuple.
    Raises `ExperimentError` naming the setting that is missing, unknown or of the wrong type,
    or the error `cls` itself raises.
    """
    if not isinstance(data, Mapping):
        raise ExperimentError(f"checkpoint {path} has setting {prefix.rstrip('.') or 'config'}="
                              f"{data!r}, expected an object.")
    hints = typing.get_type_hints(cls)
    names = [field.name for field in dataclasses.fields(cls)]
    missing = [name for name in names if name not in data]
    if missing:
        raise ExperimentError(f"checkpoint {path} lacks the setting {prefix}{missing[0]}.")
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise ExperimentError(f"checkpoint {path} has an unknown setting {prefix}{unknown[0]}.")
    values = {}
    for name in names:
        hint, value = hints[name], data[name]
        if dataclasses.is_dataclass(hint):
            value = dataclass_from_dict(hint, value, path, f"{prefix}{name}.")
        elif not _matches(hint, value):
            raise ExperimentError(f"checkpoint {path} has setting {prefix}{name}={value!r}, "
                                  f"expected {getattr(hint, '__name__', hint)}.")
        elif typing.get_origin(hint) is tuple:
            value = tuple(value)
        values[name] = value
    try:
        return cls(**values)
    except (TypeError, ValueError) as error:
        raise ExperimentError(f"checkpoint {path} holds settings {cls.__name__} refuses "
                              f"({one_line(error)}).") from None


def new_figure(rows: int = 1, columns: int = 1,
               size: tuple[float, float] = (6, 4)) -> tuple[Any, np.ndarray]:
    """A matplotlib figure (headless backend) and its axes as an array [rows, columns]."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    return plt.subplots(rows, columns, figsize=size, squeeze=False)


def save_figure(figure: Any, path: str, dpi: int = 100) -> None:
    """Saves `figure` as a PNG, atomically, and closes it."""
    import matplotlib.pyplot as plt  # pylint: disable=import-outside-toplevel

    figure.tight_layout()
    atomic_write(path, lambda handle: figure.savefig(handle, format="png", dpi=dpi), mode="wb")
    plt.close(figure)


def plot_learning_curves(path: str, rows: Sequence[Mapping[str, float]], x: str,
                         names: Sequence[str], title: str, x_label: str,
                         log_scale: Collection[str] = ()) -> None:
    """One panel per metric in `names` against column `x` of `rows`, saved as a PNG.

    Metrics in `log_scale` get a logarithmic y axis.
    """
    figure, axes = new_figure(1, len(names), size=(max(3.2 * len(names), 5), 3.2))
    steps = [row[x] for row in rows]
    for ax, name in zip(axes[0], names):
        ax.plot(steps, [row[name] for row in rows])
        ax.set_xlabel(x_label)
        ax.set_title(name, fontsize=9)
        ax.grid(alpha=0.3)
        if name in log_scale:
            ax.set_yscale("log")
    figure.suptitle(title)
    save_figure(figure, path)


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
