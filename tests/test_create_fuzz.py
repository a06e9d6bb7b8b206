"""Fuzzing `zoo.create` over every catalog model: configs drawn from each model's own config fields
(valid values, edges, huge ints, negatives, wrong types, long lists, NaN/inf floats) and junk
name/variant/task/pretrained arguments. Every call either returns a model or raises a zoo error
that names the bad value or field; never another exception type, never an allocation beyond the
size limit, never a hang."""

from __future__ import annotations

import math
import signal
import time
import types
import typing
from contextlib import contextmanager

import annotated_types
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch.utils._python_dispatch import TorchDispatchMode

import zoo
from zoo.errors import ConfigError, ResourceError, UnknownNameError
from zoo.limits import MAX_INT, MAX_LIST_LENGTH, is_allocation_failure

MODELS = zoo.list_models()
MAX_PARAMS = 300_000  # the fuzz's size limit: small models build fast, larger ones are refused
ALLOCATION_LIMIT = 8 * MAX_PARAMS  # no single real tensor may be larger (temporaries of a build included)
SECONDS_PER_CALL = 20  # a hang fails the example instead of the run
EXPECTED = (ConfigError, UnknownNameError, ResourceError)

WRONG_TYPES = st.sampled_from(["5", 5.5, None, True, [1], {"a": 1}, b"x", (), "", "nan"])
HUGE_INTS = st.sampled_from([MAX_INT, MAX_INT + 1, 2**63, -(2**63), 10**30, -1, 0])


# --- strategies derived from a config field's annotation and bounds ------------------------------------


def _bounds(metadata: list) -> tuple[float | None, float | None]:
    low = high = None
    for m in metadata:
        if isinstance(m, annotated_types.Ge):
            low = m.ge
        elif isinstance(m, annotated_types.Gt):
            low = m.gt
        elif isinstance(m, annotated_types.Le):
            high = m.le
        elif isinstance(m, annotated_types.Lt):
            high = m.lt
    return low, high


def _ints(low, high, default) -> st.SearchStrategy:
    """Mostly values a user would try (near the default, inside the bounds), then the edges."""
    low = int(low) if low is not None else -3
    top = max(8, 2 * default) if isinstance(default, int) and not isinstance(default, bool) else 16
    top = min(top, int(high)) if high is not None else top
    near = st.integers(min_value=low, max_value=max(low, top))
    edges = sorted({low - 1, low, top, top + 1} | ({int(high), int(high) + 1} if high is not None else set()))
    return st.one_of(near, near, st.sampled_from(edges), HUGE_INTS)


def _floats(low, high, default) -> st.SearchStrategy:
    edges = [v for v in (low, high, default) if isinstance(v, (int, float)) and not isinstance(v, bool)]
    special = st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e-300, 1e308, -1e308, math.nan, math.inf, -math.inf, 3, 2**70])
    inside = st.floats(min_value=low if low is not None else -1e6, max_value=high if high is not None else 1e6,
                       allow_nan=False, exclude_min=True, exclude_max=True)
    return st.one_of(inside, inside, st.sampled_from(edges) if edges else special, special)


def _for_annotation(annotation, metadata: list, default) -> st.SearchStrategy:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    low, high = _bounds(metadata)
    if origin is typing.Literal:
        return st.one_of(st.sampled_from(args), st.sampled_from(["", "no-such-choice", 5, None]))
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(_for_annotation(a, metadata, default) for a in args))
    if annotation is type(None):
        return st.none()
    if annotation is bool:
        return st.sampled_from([True, False, 1, "true", None])
    if annotation is int:
        return _ints(low, high, default)
    if annotation is float:
        return _floats(low, high, default)
    if annotation is str:
        return st.text(max_size=8)
    if origin in (list, tuple):
        item = args[0] if args else int
        if origin is tuple and args and args[-1] is not Ellipsis:  # fixed length, e.g. tuple[float, float]
            exact = st.tuples(*(_for_annotation(a, [], None) for a in args))
            wrong = st.lists(_for_annotation(args[0], [], None), min_size=0, max_size=len(args) + 1)
            return st.one_of(exact, exact.map(list), wrong)
        entries = _for_annotation(item, [], None) if typing.get_origin(item) else (
            st.integers(min_value=1, max_value=8) if item is int else _for_annotation(item, [], None))
        lists = st.lists(entries, min_size=0, max_size=6)
        too_long = st.just([default[0] if default else 1] * (MAX_LIST_LENGTH + 1))
        junk = st.lists(_for_annotation(item, [], None), min_size=1, max_size=4)
        return st.one_of(lists, lists.map(tuple), too_long, junk, st.just(default) if default is not None else lists)
    return WRONG_TYPES


def field_values(config_cls, name: str) -> st.SearchStrategy:
    info = config_cls.model_fields[name]
    typed = _for_annotation(info.annotation, info.metadata, info.default)
    return st.one_of(typed, typed, typed, WRONG_TYPES)


# --- guards: time and allocation ----------------------------------------------------------------------------


class CallTookTooLong(Exception):
    pass


@contextmanager
def time_limit(seconds: float):
    def expire(signum, frame):
        raise CallTookTooLong(f"zoo.create ran for more than {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


FACTORIES = ("empty", "zeros", "ones", "full", "rand", "normal")


class AllocationGuard(TorchDispatchMode):
    """Records every real (non-meta) tensor op that asks for more than `limit` elements, before it
    runs (the op is then refused), and every allocation failure."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.refused = limit, []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if any(word in func.__name__ for word in FACTORIES) and str(kwargs.get("device")) != "meta":
            size = next((a for a in args if isinstance(a, (list, tuple, torch.Size))), ())
            if _numel(size) > self.limit:
                self.refused.append(f"{func}{tuple(size)}")
                raise MemoryError(f"test guard: {func} asked for {tuple(size)}")
        try:
            out = func(*args, **kwargs)
        except Exception as exc:
            if is_allocation_failure(exc):
                self.refused.append(f"{func}: {exc}")
            raise
        for t in (out if isinstance(out, (list, tuple)) else [out]):
            if isinstance(t, torch.Tensor) and not t.is_meta:
                stored = t.untyped_storage().nbytes() // max(1, t.element_size())  # views: their base's size
                if stored > self.limit:
                    self.refused.append(f"{func} made {tuple(t.shape)}")
        return out


def _numel(size) -> int:
    n = 1
    for d in size:
        if not isinstance(d, int):
            return 0
        n *= d
    return n


def _names_the_problem(exc: Exception, name, kwargs: dict) -> bool:
    """Whether an error names one of the values or fields the call passed, in its own words: not
    in the list of valid fields, nor in the echo of the whole config, nor by the model's name alone
    (every config error starts with it)."""
    own = str(exc).split(" Valid fields:")[0]
    if "(config)=" in own:  # a check across fields: its own message follows pydantic's prefix
        own = own.split("Value error, ", 1)[-1]
    pieces = [piece for key, value in kwargs.items() if value is not None or key != "variant"
              for piece in (key, repr(value)[:12])]
    if not isinstance(exc, ConfigError):  # an unknown or oversized model is named by its name or tag
        pieces += [repr(name)[:12]] + ([repr(part) for part in name.split(".", 1)] if isinstance(name, str) else [])
    return any(p and p in own for p in pieces)


def create_checked(name, **kwargs):
    """zoo.create under the guards; returns the model or the zoo error, fails on anything else."""
    guard = AllocationGuard(ALLOCATION_LIMIT)
    start = time.perf_counter()
    try:
        with time_limit(SECONDS_PER_CALL), guard:
            model = zoo.create(name, max_params=MAX_PARAMS, **kwargs)
        outcome = model
    except EXPECTED as exc:
        assert _names_the_problem(exc, name, kwargs), f"{type(exc).__name__} names no value or field: {exc}"
        outcome = exc
    assert not guard.refused, f"zoo.create({name!r}, {kwargs}) tried to allocate {guard.refused[:3]}"
    assert time.perf_counter() - start < SECONDS_PER_CALL
    if not isinstance(outcome, Exception):
        size = sum(t.numel() for t in (*outcome.parameters(), *outcome.buffers()))
        assert size <= MAX_PARAMS, f"{name} holds {size} elements, over max_params={MAX_PARAMS}"
    return outcome


# --- the fuzz -------------------------------------------------------------------------------------------------


FUZZ = settings(max_examples=15, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", MODELS)
@FUZZ
@given(data=st.data())
def test_create_with_fuzzed_config(name, data):
    spec = zoo.model_spec(name)
    entry = zoo.info(name)
    fields = list(spec.config.model_fields)
    chosen = data.draw(st.lists(st.sampled_from(fields + ["no_such_field"]), min_size=1, max_size=3, unique=True))
    kwargs = {f: data.draw(field_values(spec.config, f) if f in spec.config.model_fields else WRONG_TYPES,
                           label=f) for f in chosen}
    kwargs["variant"] = data.draw(st.one_of(st.none(), st.sampled_from(list(entry.variants))), label="variant")
    create_checked(name, **kwargs)


JUNK_NAMES = st.one_of(st.sampled_from(["", "KAN", "kan.", "kan.no-such-tag", "no-such-model", ".", "kan..x"]),
                       WRONG_TYPES, st.text(max_size=12))
JUNK_ARGUMENTS = st.fixed_dictionaries({}, optional={
    "variant": st.one_of(WRONG_TYPES, st.sampled_from(["", "no-such-variant", "default "])),
    "task": st.one_of(WRONG_TYPES.filter(lambda v: v is not None), st.sampled_from(["no/such-task", 5, 1.5])),
    "pretrained": st.sampled_from(["yes", 1, None, [True]]),
    "max_params": st.sampled_from([0, -1, "10", 1.5, True]),
})


@settings(FUZZ, max_examples=60)
@given(name=st.one_of(st.sampled_from(MODELS), JUNK_NAMES), kwargs=JUNK_ARGUMENTS)
def test_create_with_junk_arguments(name, kwargs):
    max_params = kwargs.pop("max_params", MAX_PARAMS)
    guard = AllocationGuard(ALLOCATION_LIMIT)
    with time_limit(SECONDS_PER_CALL), guard:
        try:
            zoo.create(name, max_params=max_params, **kwargs)
        except EXPECTED as exc:
            assert _names_the_problem(exc, name, {**kwargs, "max_params": max_params}), str(exc)
    assert not guard.refused
