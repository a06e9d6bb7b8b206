"""Typed configs: strict validation, sequences as declared, exact JSON round trip, refusals."""

from __future__ import annotations

import math
from typing import Literal

import pytest

from zoo.config import Config, Field, describe_fields, type_name
from zoo.errors import ConfigError


class Sample(Config):
    width: list[int] = Field([2, 5, 1], description="widths")
    span: tuple[float, float] = Field((-1.0, 1.0), description="range")
    rate: float = Field(0.1, ge=0.0, description="a rate")
    mode: Literal["a", "b"] = Field("a", description="a choice")
    label: str | None = Field(None, description="optional label")


def test_round_trip_is_exact_for_awkward_values():
    cfg = Sample(width=(3, 4), span=[0.1, 1 / 3], rate=1e-12, mode="b", label="ünïcode")
    assert cfg.width == [3, 4] and cfg.span == (0.1, 1 / 3), "tuples and lists are accepted as declared"
    back = Sample.from_json(cfg.to_json())
    assert back == cfg and back.span[1] == 1 / 3


@pytest.mark.parametrize(
    "values, fragment",
    [
        ({"rate": math.nan}, "rate=nan"),
        ({"rate": math.inf}, "rate=inf"),
        ({"rate": "0.1"}, "rate='0.1'"),
        ({"mode": "c"}, "mode='c'"),
        ({"width": [1, "2"]}, "width.1='2'"),
        ({"rate": -1.0}, "greater than or equal to 0"),
        ({"extra_field": 1}, "unknown field 'extra_field'"),
    ],
)
def test_values_that_cannot_round_trip_or_are_ill_typed_are_refused(values, fragment):
    from zoo.config import validate_config

    with pytest.raises(ConfigError) as err:
        validate_config(Sample, values, "sample")
    assert fragment in str(err.value)
    assert "Valid fields: width (list[int]" in str(err.value)


def test_configs_are_frozen():
    cfg = Sample()
    with pytest.raises(Exception):
        cfg.rate = 3.0


def test_from_json_rejects_bad_documents():
    with pytest.raises(ConfigError, match="invalid config for 'Sample'"):
        Sample.from_json('{"rate": "fast"}')


def test_field_descriptions_for_the_catalog():
    fields = {f.name: f for f in describe_fields(Sample)}
    assert fields["span"].type == "tuple[float, float]" and fields["span"].default == [-1.0, 1.0]
    assert fields["mode"].type == "Literal['a', 'b']"
    assert fields["label"].type == "str | None" and fields["label"].default is None
    assert type_name(tuple[int, ...]) == "tuple[int, ...]"


def test_optional_sequences_take_a_list_or_a_tuple_like_plain_ones():
    class Optional(Config):
        layers: list[str] | None = Field(None, description="module paths")
        bounds: tuple[float, float] | None = Field(None, description="low and high")

    config = Optional(layers=("a", "b"), bounds=[0.0, 1.0])
    assert config.layers == ["a", "b"] and config.bounds == (0.0, 1.0)
    assert Optional.from_json(config.to_json()) == config
