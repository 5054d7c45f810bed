"""The checkpoint format of every experiment binary: `.npz` of named arrays, never pickle.

A checkpoint is a flat list of arrays (`leaf_00000`, ...; the leaves of a pytree whose structure
the reader rebuilds from its own configuration), their count `num_leaves` and a JSON `config`
holding `FORMAT_VERSION`. `load_checkpoint` refuses a file that is unreadable, foreign, of
another format version or written with another configuration, naming the file and the problem;
`dataclass_from_dict` rebuilds a config dataclass from it, checking every setting.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

import jax
import numpy as np

from experiments.common import ExperimentError, one_line
from experiments.run_files import to_builtin
from infra import config_json
from infra.files import atomic_write

if TYPE_CHECKING:
    from _typeshed import DataclassInstance  # typeshed's "any dataclass", for type checkers only

CHECKPOINT_NAME = "checkpoint.npz"
# The layout of a checkpoint's config: 2 stores the config dataclasses (`dataclasses.asdict`).
FORMAT_VERSION = 2

T = TypeVar("T", bound="DataclassInstance")


def save_checkpoint(path: str, tree: Any, config: Mapping[str, Any]) -> None:
    """Saves a pytree of arrays and its `config` to an `.npz` file, atomically.

    The tree structure is not stored: `load_checkpoint` restores the leaves into a template tree
    of the same structure, which the caller builds from its own configuration. `config` should
    hold `format_version: FORMAT_VERSION` (see `read_checkpoint`).
    """
    leaves = jax.tree_util.tree_leaves(tree)
    # `Any` values: mypy checks a `**dict` against every keyword of numpy's `savez` stub,
    # `allow_pickle: bool` among them; no array here is named that.
    arrays: dict[str, Any] = {f"leaf_{i:05d}": np.asarray(leaf) for i, leaf in enumerate(leaves)}
    arrays["config"] = np.asarray(json.dumps(to_builtin(config, finite_only=True),
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
    wanted_flat = _flatten(to_builtin(wanted, finite_only=True))
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


def dataclass_from_dict(cls: type[T], data: Any, path: str, prefix: str = "") -> T:
    """Rebuilds dataclass `cls` from the `dataclasses.asdict` stored in checkpoint `path`.

    Checked whole by `infra.config_json`, as agent files are (nested dataclasses rebuilt, lists
    made tuples). Raises `ExperimentError` naming the setting that is missing, unknown or of the
    wrong type, or the error `cls` itself raises.
    """
    try:
        return config_json.dataclass_from_json(cls, data, prefix.rstrip("."))
    except config_json.SettingError as error:
        raise ExperimentError(f"checkpoint {path} {error}") from None
    except (TypeError, ValueError) as error:
        raise ExperimentError(f"checkpoint {path} holds settings {cls.__name__} refuses "
                              f"({one_line(error)}).") from None
