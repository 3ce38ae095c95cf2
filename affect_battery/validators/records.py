"""Typed report blocks that serialise to exactly the JSON they stand for, and back.

Why: the defence report is written as report.json and read back (``export --report`` and
``export --verify`` render the dataset card from the stored file), so every section must go to
JSON and return without loss. Sections are dataclasses deriving from :class:`Record`; this module
turns them into JSON-ready dicts in field order and rebuilds them from such dicts by the fields'
type hints, so a new section needs no serialisation code of its own.

Two conventions of the report need a word each:

- a key that the JSON leaves out when there is nothing to say (``eight_class_clinical`` on a
  small battery, ``mcnemar_twins`` without twins) is a field declared ``field(default=None,
  metadata=OMIT_IF_NONE)``;
- a section that could not be computed is a :class:`NotComputed` (``{"computed": false,
  "reason": ...}``); a field typed ``Section | NotComputed`` is rebuilt as whichever of the two
  has exactly the keys found.

A class with its own ``to_dict`` / ``from_dict`` (e.g. ``stats.TestResult``) is serialised by
those; a plain dataclass without them (e.g. ``norms.NormsSection``'s parts) by its fields.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Self, Union, get_args, get_origin, get_type_hints

OMIT_IF_NONE: Mapping[str, bool] = types.MappingProxyType({"omit_if_none": True})
"""Field metadata: leave the key out of the JSON while the value is None."""
NOT_SERIALISED: Mapping[str, bool] = types.MappingProxyType({"not_serialised": True})
"""Field metadata: a value kept beside the section (e.g. per-item scores), never in the JSON."""


class ShapeError(Exception):
    """JSON that does not have the shape of the record it should rebuild (a missing, unknown
    or mistyped key). A dedicated class, so a reader of a user's file can turn exactly this into
    a user error and let any other exception (a bug) keep its traceback."""


def to_json(value: object) -> object:
    """A JSON-ready copy: records and dataclasses as dicts in field order, tuples as lists."""
    to_dict = getattr(value, "to_dict", None)
    if to_dict is not None and not isinstance(value, type):
        return to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return fields_to_json(value)
    if isinstance(value, Mapping):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    return value


def fields_to_json(obj: object) -> dict[str, Any]:
    """The fields of a dataclass instance as a JSON-ready dict, honouring the field metadata."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if f.metadata.get("not_serialised") or (value is None and f.metadata.get("omit_if_none")):
            continue
        out[f.name] = to_json(value)
    return out


@cache
def _hints(cls: type) -> dict[str, Any]:
    return get_type_hints(cls)


def _serialised_fields(cls: type) -> list[dataclasses.Field[Any]]:
    return [f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("not_serialised")]


def _required(cls: type) -> set[str]:
    return {f.name for f in _serialised_fields(cls) if f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING}


def _fits(cls: type, data: Mapping[str, Any]) -> bool:
    """Whether ``data`` has every required key of dataclass ``cls`` and no key it lacks."""
    return _required(cls) <= set(data) <= {f.name for f in _serialised_fields(cls)}


def from_json(tp: Any, value: Any) -> Any:
    """Rebuild a value of type ``tp`` from its JSON form (the inverse of :func:`to_json`)."""
    if value is None or tp is Any:
        return value
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        options = [a for a in get_args(tp) if a is not type(None)]
        records = [a for a in options if dataclasses.is_dataclass(a)]
        if records and isinstance(value, Mapping):
            fitting = [a for a in records if _fits(a, value)] or records
            return from_json(fitting[0], value)
        return from_json(options[0], value) if len(options) == 1 else value
    if dataclasses.is_dataclass(tp):
        custom = getattr(tp, "from_dict", None)
        if custom is None:
            return build(tp, value)
        check_shape(tp, value)
        return custom(value)
    if origin is list or origin is tuple:
        if not isinstance(value, list):
            raise ShapeError(f"expected a list, got {type(value).__name__}")
        items = [from_json(get_args(tp)[0], v) for v in value]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ShapeError(f"expected an object, got {type(value).__name__}")
        return {k: from_json(get_args(tp)[1], v) for k, v in value.items()}
    return value


def build(cls: type, data: Mapping[str, Any]) -> Any:
    """An instance of dataclass ``cls`` from a JSON dict, field by field.

    Raises :class:`ShapeError` for data that is not an object, lacks a required key or has a
    key the class does not know.
    """
    check_shape(cls, data)
    hints = _hints(cls)
    return cls(**{f.name: from_json(hints[f.name], data[f.name])
                  for f in _serialised_fields(cls) if f.name in data})


def check_shape(cls: type, data: object) -> None:
    """Raise :class:`ShapeError` unless ``data`` is an object with the keys of dataclass ``cls``."""
    if not isinstance(data, Mapping):
        raise ShapeError(f"{cls.__name__}: expected an object, got {type(data).__name__}")
    unknown = sorted(set(data) - {f.name for f in _serialised_fields(cls)})
    missing = sorted(_required(cls) - set(data))
    if unknown or missing:
        what = f"unknown key {unknown[0]!r}" if unknown else f"missing key {missing[0]!r}"
        raise ShapeError(f"{cls.__name__}: {what}")


class Record:
    """Base of the report's dataclasses: ``to_dict`` and ``from_dict`` by field and type hint."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: fields in order, omitted and unserialised fields left out."""
        return fields_to_json(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """The record back from its JSON form (raises :class:`ShapeError` if it does not fit)."""
        return build(cls, data)  # type: ignore[no-any-return]


@dataclass(kw_only=True)
class NotComputed(Record):
    """A section the battery cannot support yet (e.g. no complex_neutral items), and why."""

    computed: bool = False
    reason: str
