"""Command-line flags made from a config dataclass, and the dataclass built back from them.

One home for every setting: a field's flag takes its name, its type and its default from the
dataclass, and its help from the `Attributes:` section of the dataclass's docstring (Google
style: `name: text`, continued on more-indented lines). The dataclass's `__post_init__` is the
only validation; `build` turns its `ValueError` into an `ExperimentError` that names the flags
(`num_envs` becomes `--num_envs`), which `common.run_main` prints as one line with exit status 1
before any work starts.

    config_flags.define(TrainConfig, ["num_envs", "learning_rate"])
    ...
    config = config_flags.build(TrainConfig, ["num_envs", "learning_rate"], agent=agent)

Types: `int`, `float`, `str` (an enum flag where `choices` names its values), `bool`,
`tuple[int, ...]`, `tuple[float, ...]` and `tuple[str, ...]` (comma-separated lists) and
`X | None` of the first three (unset: None).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
import types
import typing
from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from absl import flags

from experiments.common import ExperimentError, one_line

T = TypeVar("T")
# What the items of a list flag of each tuple type must be, for the message that refuses one.
_ITEMS = {int: "integers", float: "numbers", str: "strings"}
# The flags `define` makes belong to the module that calls it (for its --help), not to this one.
flags.disclaim_key_flags()


def field_help(cls: type, name: str) -> str:
    """The text the `Attributes:` section of `cls`'s docstring (or a base's) gives `name`.

    Raises `ValueError` when none does: every flag has its help.
    """
    for klass in cls.__mro__:
        doc = inspect.cleandoc(klass.__dict__.get("__doc__") or "")
        _, found, section = doc.partition("Attributes:\n")
        if not found:
            continue
        match = re.search(rf"^(\s+){re.escape(name)}: (.*(?:\n\1\s+\S.*)*)", section, re.M)
        if match:
            return one_line(match.group(2))
    raise ValueError(f"{cls.__name__}'s docstring has no Attributes entry for {name}.")


def _field(cls: type, name: str) -> dataclasses.Field:
    fields = {field.name: field for field in dataclasses.fields(cls)}
    if name not in fields:
        raise ValueError(f"{cls.__name__} has no field {name}.")
    return fields[name]


def default(cls: type, name: str) -> Any:
    """The default value of field `name` of dataclass `cls`."""
    field = _field(cls, name)
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    raise ValueError(f"{cls.__name__}.{name} has no default to give its flag.")


def _unwrap_optional(hint: Any) -> Any:
    """`X` of `X | None`; other hints unchanged."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return hint


def _item_type(hint: Any) -> type | None:
    """`X` of a `tuple[X, ...]` hint that `define` makes a list flag of; else None."""
    if typing.get_origin(hint) is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis and args[0] in _ITEMS:
            return args[0]
    return None


def define(cls: type, names: Sequence[str], choices: Mapping[str, Sequence[str]] | None = None,
           defaults: Mapping[str, Any] | None = None,
           flag_values: flags.FlagValues = flags.FLAGS) -> None:
    """Defines one flag per field of `cls` in `names` (see the module docstring).

    `defaults` are for a dataclass shared by binaries that each have their own (the graph
    network demos): a field's default comes from there when given, else from the dataclass.
    """
    hints = typing.get_type_hints(cls)
    choices, defaults = choices or {}, defaults or {}
    for name in names:
        value = defaults[name] if name in defaults else default(cls, name)
        text = field_help(cls, name)
        hint = _unwrap_optional(hints[name])
        if name in choices:
            flags.DEFINE_enum(name, value, list(choices[name]), text, flag_values=flag_values)
        elif hint is bool:
            flags.DEFINE_bool(name, value, text, flag_values=flag_values)
        elif hint is int:
            flags.DEFINE_integer(name, value, text, flag_values=flag_values)
        elif hint is float:
            flags.DEFINE_float(name, value, text, flag_values=flag_values)
        elif hint is str:
            flags.DEFINE_string(name, value, text, flag_values=flag_values)
        elif _item_type(hint) is not None:
            flags.DEFINE_list(name, [str(v) for v in value], text, flag_values=flag_values)
        else:
            raise TypeError(f"{cls.__name__}.{name}: no flag type for {hint}.")


def values(cls: type, names: Sequence[str],
           flag_values: flags.FlagValues = flags.FLAGS) -> dict[str, Any]:
    """The flags of `names` as field values of `cls` (list flags become tuples of their type)."""
    hints = typing.get_type_hints(cls)
    result = {}
    for name in names:
        value = flag_values[name].value
        item = _item_type(_unwrap_optional(hints[name]))
        if item is not None:
            # `define` gave the list flag a list default, and absl parses any value to a list.
            assert value is not None
            try:
                value = tuple(item(entry) for entry in value)
            except ValueError:
                raise ExperimentError(
                    f"--{name} must be {_ITEMS[item]}, got {','.join(value)}.") from None
        result[name] = value
    return result


def flag_names(message: str, names: Sequence[str]) -> str:
    """`message` with every field name of `names` (bare, or as `Class.name`) written as its flag
    (`--name`), so that an error of the dataclass speaks of the command line.

    A name that is part of a path or file name the message quotes (`runs/a`, `x/seed`,
    `seed.npz`) stays as it is."""
    for name in sorted(names, key=len, reverse=True):
        message = re.sub(rf"(?<![\w./-])(?:[A-Z]\w*\.)?{re.escape(name)}(?![\w/-]|\.\w)",
                         f"--{name}", message)
    return message


def build(cls: type[T], names: Sequence[str], flag_values: flags.FlagValues = flags.FLAGS,
          **fixed: Any) -> T:
    """`cls` from the flags of `names` and the `fixed` fields; its `ValueError` becomes an
    `ExperimentError` naming the flags."""
    try:
        return cls(**values(cls, names, flag_values), **fixed)
    except ValueError as error:
        raise ExperimentError(flag_names(one_line(error), names)) from None
