"""Typed architecture configs: a strict pydantic base class whose instances validate every value,
refuse unknown keys, and round-trip through JSON exactly."""

from __future__ import annotations

import types
import typing
from typing import Any

import annotated_types
import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidatorFunctionWrapHandler, field_validator, model_validator

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

    @model_validator(mode="before")
    @classmethod
    def _sequences_as_declared(cls, data: Any) -> Any:
        """Accept a tuple where a list is declared and vice versa: strict mode otherwise refuses
        `width=(2, 5, 1)` for `list[int]`, which no user would call ill-typed."""
        if not isinstance(data, dict):
            return data
        out = dict(data)
        for key, value in data.items():
            info = cls.model_fields.get(key)
            if info is None or not isinstance(value, (list, tuple)):
                continue
            origin = typing.get_origin(info.annotation)
            if origin is list and isinstance(value, tuple):
                out[key] = list(value)
            elif origin is tuple and isinstance(value, list):
                out[key] = tuple(value)
        return out

    @field_validator("*", mode="wrap")
    @classmethod
    def _default_bounds(cls, value: Any, handler: ValidatorFunctionWrapHandler, info: pydantic.ValidationInfo) -> Any:
        """The default length and int bounds of fields that declare none (lengths are checked before
        the entries are validated, so a list of millions is refused at once)."""
        declared = cls.model_fields[info.field_name].metadata
        if not any(isinstance(m, annotated_types.MaxLen) for m in declared):
            _check_lengths(value, info.field_name)
        value = handler(value)
        if not any(isinstance(m, (annotated_types.Le, annotated_types.Lt)) for m in declared):
            _check_ints(value, info.field_name)
        return value

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


def _check_lengths(value: Any, where: str) -> None:
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_LIST_LENGTH:
            raise ValueError(f"{where} has {len(value):,} entries, more than the {MAX_LIST_LENGTH} a config list may "
                             f"hold (a field that needs more declares Field(max_length=...))")
        for i, item in enumerate(value):
            _check_lengths(item, f"{where}[{i}]")


def _check_ints(value: Any, where: str) -> None:
    if isinstance(value, int) and not isinstance(value, bool):
        if not -MAX_INT <= value <= MAX_INT:
            raise ValueError(f"{where}={value} is outside the range +-{MAX_INT} that config integers may take "
                             f"(a field that needs more declares Field(le=...))")
    elif isinstance(value, (list, tuple)):
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


def _field_summary(cls: type[Config]) -> str:
    return ", ".join(f"{f.name} ({f.type}, default {f.default!r})" for f in describe_fields(cls))


def _explain(cls: type[Config], exc: pydantic.ValidationError, owner: str) -> str:
    problems = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(config)"
        if err["type"] == "extra_forbidden":
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
