"""Config dataclasses rebuilt from JSON, checked whole against their fields.

A file's JSON (an agent file's header, say) must hold every field of the config, nothing else,
and each value of its field's type: the fields and their annotations are the one list of what a
config needs, so a setting added to the dataclass is required from then on without another list
to update. Ranges stay the dataclass's own (`__post_init__`); this module checks presence and
type, which JSON cannot promise and Python's constructor does not check.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance  # typeshed's "any dataclass", for type checkers only

T = TypeVar("T", bound="DataclassInstance")


class SettingError(ValueError):
    """A setting missing, unknown or of the wrong type; the message names it by its dotted path."""


def describe(hint: Any) -> str:
    """A field type in JSON's words: `int` is "an integer", `tuple[int, ...]` "a list of ..."."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(describe(arg) for arg in args)
    if origin is tuple:
        return f"a list of {describe(args[0]).removeprefix('a ').removeprefix('an ')}s"
    names = {bool: "a bool", int: "an integer", float: "a number", str: "a string",
             type(None): "null"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def fits(hint: Any, value: Any) -> bool:
    """Whether a JSON value has a field's type; `bool` is neither an integer nor a number, and a
    `tuple[X, ...]` field takes a list of X."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return any(fits(arg, value) for arg in args)
    if origin is tuple:
        if not isinstance(value, list):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(fits(args[0], item) for item in value)
        return len(args) == len(value) and all(map(fits, args, value))
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint in (bool, str, type(None)):
        return isinstance(value, hint)
    raise TypeError(f"config_json does not read fields of type {hint!r}.")


def check_value(hint: Any, value: Any, where: str) -> Any:
    """`value` as the field at `where` takes it (a list as a tuple, an integer number as a float).

    Raises:
      SettingError: `value` is not of type `hint`, naming `where`.
    """
    if not fits(hint, value):
        raise SettingError(f"has setting {where}={value!r}, expected {describe(hint)}.")
    if typing.get_origin(hint) is tuple:
        return tuple(value)
    return float(value) if hint is float else value


def dataclass_from_json(cls: type[T], data: Any, where: str,
                        given: Mapping[str, Any] | None = None) -> T:
    """`cls` built from the JSON object `data`, every field checked first (nested dataclasses too).

    Args:
      cls: a dataclass whose fields are bools, integers, numbers, strings, tuples of them, None,
        unions of these, or dataclasses of the same kind.
      data: the parsed JSON object.
      where: the dotted path of `data` in its file (`"agent"`; "" for the whole file), which
        the errors name settings by.
      given: fields already built elsewhere (the game of an agent stored beside it), not read
        from `data`.

    Raises:
      SettingError: a field of `cls` is missing from `data`, `data` has one `cls` lacks, or a
        value has another type; naming it, e.g. `agent.exact_belief`.
      ValueError, TypeError: whatever `cls` itself raises for values out of range.
    """
    given = dict(given or {})
    if not isinstance(data, Mapping):
        raise SettingError(f"has setting {where or 'config'}={data!r}, expected an object of "
                           f"{cls.__name__} settings.")
    path = f"{where}." if where else ""
    hints = typing.get_type_hints(cls)
    names = [field.name for field in dataclasses.fields(cls) if field.name not in given]
    missing = [name for name in names if name not in data]
    if missing:
        raise SettingError(f"lacks the setting {path}{missing[0]}.")
    unknown = sorted(set(data) - set(names))
    if unknown:
        raise SettingError(f"has an unknown setting {path}{unknown[0]}: {cls.__name__} has "
                           "no such field.")
    values = dict(given)
    for name in names:
        hint = hints[name]
        # A hint is a class, never an instance; the `type` check says so to the type checker too.
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            values[name] = dataclass_from_json(hint, data[name], f"{path}{name}")
        else:
            values[name] = check_value(hint, data[name], f"{path}{name}")
    return cls(**values)
