"""Agent file headers checked whole: every setting the config needs, of its type, in range."""

import copy
import dataclasses
import functools
import json

import numpy as np
import pytest

from bad.hanabi import agent_files, agents
from infra import config_json


@functools.cache
def shipped_arrays(name: str) -> dict[str, np.ndarray]:
    """The arrays of the shipped agent `name`, its header entry included."""
    with np.load(f"{agents.PRETRAINED_DIR}/{name}.npz", allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def shipped_header(name: str) -> dict:
    return json.loads(shipped_arrays(name)[agent_files.HEADER_ENTRY].tobytes())


def write_with_header(path, name: str, header: dict) -> str:
    """The shipped agent `name`'s arrays under `header`, written to `path`."""
    arrays = dict(shipped_arrays(name))
    arrays[agent_files.HEADER_ENTRY] = np.frombuffer(json.dumps(header).encode(), np.uint8)
    with open(path, "wb") as stream:
        np.savez(stream, **arrays)
    return str(path)


@pytest.mark.parametrize("name", agents.PRETRAINED)
def test_shipped_agents_load_and_their_headers_are_what_save_writes(name):
    agent = agents.load_pretrained(name)
    header = shipped_header(name)
    written = agent_files.header_of(agent.config, header["training_steps"], header["score"])
    assert {key: header[key] for key in written} == written
    assert dict(agent.header) == header


def _drop(section, key):
    return lambda header: header[section].pop(key)


def _set(section, key, value):
    def change(header):
        (header if section is None else header[section])[key] = value
    return change


# (shipped agent, change to its header, what the error must say). small is the exact-belief one.
REFUSED = [
    # Missing, nested ones included: a default must never stand in.
    ("small", _drop("agent", "exact_belief"), r"lacks the setting agent\.exact_belief"),
    ("small", _drop("game", "hand_size"), r"lacks the setting game\.hand_size"),
    ("very_small", _drop("agent", "hidden_sizes"), r"lacks the setting agent\.hidden_sizes"),
    ("very_small", lambda header: header.pop("training_steps"), r"lacks 'training_steps'"),
    # Of another type.
    ("very_small", _set("agent", "likelihood_samples", "1"),
     r"agent\.likelihood_samples='1', expected an integer"),
    ("very_small", _set("agent", "likelihood_samples", True),
     r"agent\.likelihood_samples=True, expected an integer"),
    ("very_small", _set("agent", "likelihood_samples", 1.0),
     r"agent\.likelihood_samples=1\.0, expected an integer"),
    ("small", _set("agent", "exact_belief", 1.0), r"agent\.exact_belief=1\.0, expected a bool"),
    ("very_small", _set("agent", "cf_weight", False),
     r"agent\.cf_weight=False, expected a number"),
    ("very_small", _set("agent", "method", 3), r"agent\.method=3, expected a string"),
    ("very_small", _set("agent", "hidden_sizes", [256.0]),
     r"agent\.hidden_sizes=\[256\.0\], expected a list of integers"),
    ("very_small", _set("agent", "hidden_sizes", 256), r"agent\.hidden_sizes=256"),
    ("very_small", _set("game", "players", "2"), r"game\.players='2', expected an integer"),
    ("very_small", _set("game", "colors", True), r"game\.colors=True, expected an integer"),
    ("very_small", _set(None, "agent", [1]), r"agent=\[1\], expected an object"),
    ("very_small", _set(None, "training_steps", "5"), r"training_steps='5', expected an int"),
    ("very_small", _set(None, "score", "high"), r"score='high', expected a number or null"),
    # Unknown.
    ("very_small", _set("agent", "belief", "bb"), r"has an unknown setting agent\.belief"),
    ("very_small", _set("game", "seed", 1), r"has an unknown setting game\.seed"),
    # Out of range.
    ("very_small", _set("agent", "likelihood_floor", 2.0), r"likelihood_floor is out of range"),
    ("very_small", _set("agent", "hidden_sizes", [0]), r"hidden_sizes must be positive"),
    ("very_small", _set("game", "colors", 9), r"'colors' must be 1 to 5, got 9"),
    ("small", _set("agent", "v2_alpha", 0.5), r"v2_alpha and likelihood_samples apply to the"),
    ("very_small", _set(None, "training_steps", -1), r"training_steps is -1, expected at least 0"),
]


@pytest.mark.parametrize("name, change, message", REFUSED,
                         ids=[message for _, _, message in REFUSED])
def test_a_header_lacking_or_mistyping_a_setting_is_refused_naming_it(tmp_path, name, change,
                                                                      message):
    header = copy.deepcopy(shipped_header(name))
    change(header)
    path = write_with_header(tmp_path / "agent.npz", name, header)
    with pytest.raises(ValueError, match=message) as error:
        agents.load_agent(path)
    assert path in str(error.value) and "\n" not in str(error.value)


def test_an_integer_number_is_a_float_setting():
    header = copy.deepcopy(shipped_header("very_small"))
    header["agent"]["cf_weight"] = 1
    config = agent_files.config_from_header("agent.npz", header)
    assert config.cf_weight == 1.0 and isinstance(config.cf_weight, float)


@dataclasses.dataclass(frozen=True)
class Inner:
    width: int
    sizes: tuple[int, ...] = (1,)


@dataclasses.dataclass(frozen=True)
class Outer:
    inner: Inner
    rate: float | None = None


def test_the_settings_read_are_the_dataclass_fields_nested_ones_included():
    data = {"inner": {"width": 3, "sizes": [1, 2]}, "rate": None}
    assert config_json.dataclass_from_json(Outer, data, "run") == Outer(Inner(3, (1, 2)))
    with pytest.raises(config_json.SettingError, match=r"^lacks the setting run\.inner\.sizes\.$"):
        config_json.dataclass_from_json(Outer, {"inner": {"width": 3}, "rate": 1.0}, "run")
    with pytest.raises(config_json.SettingError,
                       match=r"^has setting run\.rate='x', expected a number or null\.$"):
        config_json.dataclass_from_json(Outer, {**data, "rate": "x"}, "run")
