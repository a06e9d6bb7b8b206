"""Typed architecture configs: a strict pydantic base class whose instances validate every value,
refuse unknown keys, and round-trip through JSON exactly."""

from __future__ import annotations

import functools
import types
import typing
from typing import Any

import annotated_types
import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from .catalog import ConfigField
from .errors import ConfigError, did_you_mean
from .limits import MAX_INT, MAX_LIST_LENGTH, shown

__all__ = ["Config", "Field", "validate_config", "describe_fields", "type_name"]


class Config(BaseModel):
    """Base class of every architecture config.

    Subclass it with annotated fields whose defaults are the paper's, e.g.
    ``grid: int = Field(5, ge=1, description="number of grid intervals G")``.
    Values are checked strictly ('5' is not an int), unknown keys are refused, floats must be
    finite, and instances are frozen, so a config that validated stays valid. Sizes are bounded
    by default: a list or tuple (at any depth) holds at most `zoo.limits.MAX_LIST_LENGTH` entries
    unless its field declares ``max_length``, and an int (also inside lists) lies within
    +-`zoo.limits.MAX_INT` unless its field declares ``le``/``lt``, so no value reaches torch
    out of range.
    """

    model_config = ConfigDict(
        extra="forbid",
        strict=True,
        frozen=True,
        validate_default=True,
        allow_inf_nan=False,
        arbitrary_types_allowed=False,
    )

    @model_validator(mode="wrap")
    @classmethod
    def _as_declared_and_bounded(cls, data: Any, handler: pydantic.ModelWrapValidatorHandler) -> Any:
        """Accept a tuple where a list is declared and vice versa (strict mode otherwise refuses
        `width=(2, 5, 1)` for `list[int]`, which no user would call ill-typed), and hold fields that
        declare no bounds of their own to the default ones: lists are measured before their entries
        are validated (one of millions is refused at once), ints once they are ints."""
        shape = _field_shapes(cls)
        if isinstance(data, dict):
            data = dict(data)
            for key, value in data.items():
                if isinstance(value, (list, tuple)) and key in shape.sequences:
                    if key in shape.free_length:
                        _check_lengths(value, key)
                    if key in shape.lists and isinstance(value, tuple):
                        data[key] = list(value)
                    elif key in shape.tuples and isinstance(value, list):
                        data[key] = tuple(value)
        config = handler(data)
        for name in shape.free_ints:
            _check_ints(getattr(config, name), name)
        return config

    def to_json(self) -> str:
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> Config:
        try:
            return cls.model_validate_json(text)
        except pydantic.ValidationError as exc:
            raise ConfigError(_explain(cls, exc, cls.__name__)) from None

    def to_dict(self) -> dict:
        """JSON-compatible dict (tuples become lists)."""
        return self.model_dump(mode="json")


class _FieldShapes(typing.NamedTuple):
    lists: frozenset  # fields declared as lists, which also take tuples
    tuples: frozenset  # and the other way round
    sequences: frozenset
    free_length: frozenset  # sequence fields without a max_length of their own
    free_ints: frozenset  # fields that may hold ints, without an le/lt of their own


@functools.cache
def _field_shapes(cls: type[Config]) -> _FieldShapes:
    """What the base validator needs to know of each field of `cls`, worked out once per class."""
    def declares(field, kinds) -> bool:
        return any(isinstance(m, kinds) for m in field.metadata)

    def mentions_int(annotation) -> bool:
        return annotation is int or any(mentions_int(a) for a in typing.get_args(annotation))

    fields = cls.model_fields.items()
    lists = frozenset(n for n, f in fields if _sequence_kind(f.annotation) is list)
    tuples = frozenset(n for n, f in fields if _sequence_kind(f.annotation) is tuple)
    sequences = frozenset(n for n, f in fields if _may_be_sequence(f.annotation))
    return _FieldShapes(lists, tuples, sequences,
                        frozenset(n for n in sequences if not declares(cls.model_fields[n], annotated_types.MaxLen)),
                        frozenset(n for n, f in fields if mentions_int(f.annotation)
                                  and not declares(f, (annotated_types.Le, annotated_types.Lt))))


def _sequence_kind(annotation) -> type | None:
    """list or tuple when that is the one sequence kind a field declares (`list[str] | None` too),
    else None."""
    origin = typing.get_origin(annotation)
    if origin in (list, tuple):
        return origin
    if origin in (typing.Union, types.UnionType):
        kinds = {_sequence_kind(a) for a in typing.get_args(annotation)} - {None}
        return kinds.pop() if len(kinds) == 1 else None
    return None


def _may_be_sequence(annotation) -> bool:
    if typing.get_origin(annotation) in (list, tuple) or annotation in (list, tuple):
        return True
    return any(_may_be_sequence(a) for a in typing.get_args(annotation))


def _bound_error(message: str) -> PydanticCustomError:
    return PydanticCustomError("config_bound", "{message}", {"message": message})


def _check_lengths(value: Any, where: str) -> None:
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_LIST_LENGTH:
            raise _bound_error(f"{where} has {len(value):,} entries, more than the {MAX_LIST_LENGTH} a config list may "
                               f"hold: {shown(value)} (a field that needs more declares Field(max_length=...))")
        for i, item in enumerate(value):
            _check_lengths(item, f"{where}[{i}]")


def _check_ints(value: Any, where: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        if not -MAX_INT <= value <= MAX_INT:
            raise _bound_error(f"{where}={value} is outside the range +-{MAX_INT} that config integers may take "
                               f"(a field that needs more declares Field(le=...))")
    elif isinstance(value, (list, tuple)) and value:
        try:  # a flat list of numbers, the common case, in one pass
            if -MAX_INT <= min(value) and max(value) <= MAX_INT:
                return
        except TypeError:  # nested or mixed: look at each entry
            pass
        for i, item in enumerate(value):
            _check_ints(item, f"{where}[{i}]")


def type_name(annotation: Any) -> str:
    """A short, stable name for a field type: 'int', 'list[int]', "Literal['a', 'b']", 'float | None'."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        inner = ", ".join("..." if a is Ellipsis else type_name(a) for a in args)
        return f"{name}[{inner}]" if args else name
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def describe_fields(cls: type[Config]) -> tuple[ConfigField, ...]:
    """The catalog's view of a config class: name, type, JSON default, description."""
    defaults = cls().model_dump(mode="json")
    return tuple(
        ConfigField(name, type_name(info.annotation), defaults[name], info.description or "")
        for name, info in cls.model_fields.items()
    )


def catalog_config_block(cls: type[Config]) -> str:
    """The `config:` block a catalog entry needs for this config class, indented as it sits under
    ``models: NAME:`` (or ``methods: NAME:``), so that it pastes as is."""
    import yaml

    fields = [{"name": f.name, "type": f.type, "default": f.default, "doc": f.doc} for f in describe_fields(cls)]
    block = yaml.safe_dump({"config": fields}, sort_keys=False, width=120)
    return "".join(f"    {line}" for line in block.splitlines(keepends=True))


def catalog_config_problem(entry, cls: type[Config], what: str) -> str | None:
    """Why a catalog entry's config fields differ from those of `cls`, with the block to paste; None
    when they agree."""
    documented = [(f.name, f.type, f.default, f.doc) for f in entry.config]
    actual = [(f.name, f.type, f.default, f.doc) for f in describe_fields(cls)]
    if documented == actual:
        return None
    missing = "has no config block" if not documented else f"differs from {cls.__name__}"
    return (f"the catalog's {what} ({entry.source}) {missing}; under {entry.name}: put\n"
            f"{catalog_config_block(cls)}")


def _field_summary(cls: type[Config]) -> str:
    return ", ".join(f"{f.name} ({f.type}, default {f.default!r})" for f in describe_fields(cls))


def _explain(cls: type[Config], exc: pydantic.ValidationError, owner: str) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(config)"
        if err["type"] == "config_bound":  # names the field and value itself
            problems.append(err["msg"])
        elif err["type"] == "extra_forbidden":
            hint = did_you_mean(str(err["loc"][0]), cls.model_fields).strip()
            problems.append(f"unknown field {loc!r}" + (f" ({hint[0].lower()}{hint[1:]})" if hint else ""))
        else:
            problems.append(f"{loc}={shown(err.get('input'))}: {err['msg']}")
    return (
        f"invalid config for {owner!r}: " + "; ".join(problems)
        + f". Valid fields: {_field_summary(cls)}"
    )


def validate_config(cls: type[Config], values: dict, owner: str) -> Config:
    """Build ``cls(**values)``; any problem becomes a ConfigError that lists the valid fields."""
    try:
        return cls.model_validate(values)
    except pydantic.ValidationError as exc:
        raise ConfigError(_explain(cls, exc, owner)) from None
