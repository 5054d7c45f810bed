"""Agent files: a trained Hanabi agent's parameters as named arrays plus a JSON header.

A file is an uncompressed `.npz` (no pickle) holding one array per parameter, named by its path
in the parameter tree (`policy/layers/0/w`, `critic/1/b`), and `HEADER_ENTRY`, the UTF-8 bytes
of a JSON object: `format_version`, `game` (the Hanabi parameters), `agent` (the `AgentConfig`
fields but the game), `training_steps`, `score` and any extra entries the writer adds. Writes are
atomic (a temp file in the same folder, then `os.replace`). Reading checks the header whole
against the config dataclasses' fields (`infra.config_json`: every setting there, none unknown,
each of its type and in range) and the arrays against the parameter tree `init_params` would
build for the stored config, so a truncated, random, foreign, pickled or newer-version file, or
a header lacking a setting, is one `ValueError` naming the file and the problem.
"""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import zipfile
from collections.abc import Iterable, Mapping
from typing import Any

import jax
import numpy as np

from bad.hanabi import network as hanabi_network
from bad.hanabi.agent import AgentConfig
from games.hanabi.config import HanabiConfig, make_config
from infra import config_json
from infra.files import atomic_write

FORMAT_VERSION = 1
HEADER_ENTRY = "__header__"
REQUIRED_HEADER = ("format_version", "game", "agent", "training_steps", "score")
# The types of the header's own numbers (`game` and `agent` are read by `config_from_header`).
HEADER_NUMBERS = {"training_steps": int, "score": float | None}


@dataclasses.dataclass(frozen=True)
class Agent:
    """A trained agent: its config, its parameters (`hanabi_network.init_params`' tree) and
    the header of its file (a dict with at least the `REQUIRED_HEADER` entries)."""

    config: AgentConfig
    params: Any
    header: Mapping[str, Any]


def make_agent(config: AgentConfig, params: Any, training_steps: int = 0,
               score: float | None = None, **extra: Any) -> Agent:
    """An `Agent` with the header `save_agent` writes (`extra`: JSON-able entries to keep)."""
    header = {**extra, **header_of(config, training_steps, score)}
    return Agent(config=config, params=params, header=header)


def header_of(config: AgentConfig, training_steps: int, score: float | None) -> dict[str, Any]:
    """The required header entries of an agent of `config`."""
    agent = {field.name: getattr(config, field.name) for field in dataclasses.fields(config)
             if field.name != "game"}
    agent["hidden_sizes"] = [int(size) for size in config.hidden_sizes]
    return {"format_version": FORMAT_VERSION, "game": config.game.open_spiel_params(),
            "agent": agent, "training_steps": int(training_steps),
            "score": None if score is None else float(score)}


def named_leaves(tree: Any, prefix: str = "") -> dict[str, Any]:
    """The leaves of a tree of dicts and lists by path: `{"policy/layers/0/w": leaf, ...}`."""
    items: Iterable[tuple[Any, Any]]
    if isinstance(tree, Mapping):
        items = tree.items()
    elif isinstance(tree, (list, tuple)):
        items = enumerate(tree)
    else:
        return {prefix: tree}
    named = {}
    for key, value in items:
        named.update(named_leaves(value, f"{prefix}/{key}" if prefix else str(key)))
    return named


def flatten_params(params: Any) -> dict[str, np.ndarray]:
    """Named arrays of a parameter tree (`named_leaves` as numpy arrays)."""
    return {name: np.asarray(leaf) for name, leaf in named_leaves(params).items()}


def _unflatten_like(template: Any, arrays: Mapping[str, np.ndarray], prefix: str = "") -> Any:
    """`template`'s tree with each leaf taken from `arrays` by its `flatten_params` name."""
    def name(key):
        return f"{prefix}/{key}" if prefix else str(key)
    if isinstance(template, Mapping):
        return {key: _unflatten_like(value, arrays, name(key)) for key, value in template.items()}
    if isinstance(template, (list, tuple)):
        return [_unflatten_like(value, arrays, name(i)) for i, value in enumerate(template)]
    return jax.numpy.asarray(arrays[prefix])


def _expected_arrays(config: AgentConfig) -> tuple[Any, dict[str, jax.ShapeDtypeStruct]]:
    """The parameter tree of an agent of `config` (shapes only) and its named leaves."""
    template = jax.eval_shape(lambda: hanabi_network.init_params(config, jax.random.key(0)))
    return template, named_leaves(template)


def save_agent(path: str, agent: Agent) -> None:
    """Writes `agent` to `path` atomically (a `.npz` of named arrays and the JSON header)."""
    arrays = flatten_params(agent.params)
    _, expected = _expected_arrays(agent.config)
    _check_arrays(path, arrays, expected)
    header = {**agent.header, **header_of(agent.config, agent.header.get("training_steps", 0),
                                          agent.header.get("score"))}
    data = json.dumps(header, sort_keys=True, allow_nan=False).encode("utf-8")
    arrays[HEADER_ENTRY] = np.frombuffer(data, np.uint8)
    # mypy checks a `**dict` against every keyword of numpy's `savez` stub, `allow_pickle: bool`
    # among them; no array here is named that.
    atomic_write(path, lambda stream: np.savez(stream, **arrays), "wb")  # type: ignore[arg-type]


def _check_arrays(path: str, arrays: Mapping[str, np.ndarray],
                  expected: Mapping[str, Any]) -> None:
    """Raises unless `arrays` has exactly the `expected` names, shapes and finite floats."""
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    if missing or extra:
        problem = f"lacks array {missing[0]!r}" if missing else f"has unknown array {extra[0]!r}"
        raise ValueError(f"agent file {path}: {problem} for its agent config.")
    for name, spec in expected.items():
        array = arrays[name]
        if array.shape != tuple(spec.shape) or not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"agent file {path}: array {name!r} is "
                             f"{array.dtype}{list(array.shape)}, expected float{list(spec.shape)}.")
        if not np.all(np.isfinite(array)):
            raise ValueError(f"agent file {path}: array {name!r} holds non-finite values.")


def _read_arrays(path: str) -> dict[str, np.ndarray]:
    """Every array of the `.npz` at `path`, read without pickle."""
    if not os.path.isfile(path):
        raise ValueError(f"agent file {path} does not exist.")
    with open(path, "rb") as stream:
        data = stream.read()
    try:
        archive = np.load(io.BytesIO(data), allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise ValueError("it is a single array, not an agent archive")
        with archive:
            return {name: archive[name] for name in archive.files}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as error:
        reason = str(error).rstrip(".") or type(error).__name__
        raise ValueError(f"agent file {path} is not a readable .npz archive ({reason}).") from None


def _read_header(path: str, arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """The JSON header of an agent file, its version, required entries and numbers checked."""
    if HEADER_ENTRY not in arrays:
        raise ValueError(f"agent file {path} has no {HEADER_ENTRY} entry: not an agent file.")
    raw = arrays[HEADER_ENTRY]
    try:
        if raw.dtype != np.uint8 or raw.ndim != 1:
            raise ValueError("not a byte string")
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ValueError(f"agent file {path} has an unreadable header ({error}).") from None
    if not isinstance(header, dict):
        raise ValueError(f"agent file {path}: the header is not a JSON object.")
    missing = [name for name in REQUIRED_HEADER if name not in header]
    if missing:
        raise ValueError(f"agent file {path}: the header lacks {missing[0]!r}.")
    version = header["format_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"agent file {path}: format_version {version!r} is not a version.")
    if version > FORMAT_VERSION:
        raise ValueError(f"agent file {path} has format_version {version}, newer than the "
                         f"{FORMAT_VERSION} this library reads.")
    for name, hint in HEADER_NUMBERS.items():
        try:
            config_json.check_value(hint, header[name], name)
        except config_json.SettingError as error:
            raise ValueError(f"agent file {path} {error}") from None
    if header["training_steps"] < 0:
        raise ValueError(f"agent file {path}: training_steps is {header['training_steps']}, "
                         "expected at least 0.")
    if header["score"] is not None and not math.isfinite(header["score"]):
        raise ValueError(f"agent file {path}: score is {header['score']}, expected a finite "
                         "number or null.")
    return header


def config_from_header(path: str, header: Mapping[str, Any]) -> AgentConfig:
    """The `AgentConfig` a header describes: `game` holds every `HanabiConfig` field and `agent`
    every other `AgentConfig` field, each of its field's type (`infra.config_json`), in range.

    Raises:
      ValueError: naming `path` and the setting, by its path in the header (`agent.exact_belief`).
    """
    try:
        # Read whole before make_config, whose defaults would stand in for a missing parameter.
        game = make_config(config_json.dataclass_from_json(HanabiConfig, header["game"], "game"))
        return config_json.dataclass_from_json(AgentConfig, header["agent"], "agent",
                                               given={"game": game})
    except config_json.SettingError as error:
        raise ValueError(f"agent file {path} {error}") from None
    except (TypeError, ValueError) as error:
        reason = str(error).rstrip(".")
        raise ValueError(f"agent file {path} holds an invalid agent config ({reason}).") from None


def load_agent(path: str) -> Agent:
    """The `Agent` stored at `path` by `save_agent`.

    Raises:
      ValueError: naming `path` and the problem, for a missing, truncated, random, foreign,
        pickled or newer-version file, or one whose arrays do not fit its agent config.
    """
    arrays = _read_arrays(path)
    header = _read_header(path, arrays)
    config = config_from_header(path, header)
    params_arrays = {name: array for name, array in arrays.items() if name != HEADER_ENTRY}
    template, expected = _expected_arrays(config)
    _check_arrays(path, params_arrays, expected)
    params = _unflatten_like(template, {name: params_arrays[name].astype(expected[name].dtype)
                                        for name in expected})
    return Agent(config=config, params=params, header=header)
