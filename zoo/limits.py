"""Size limits: how many parameter and buffer elements a model will hold, known from its config
before anything is allocated, and the bounds that keep configs and models within reach.

`zoo.create` refuses a model over its limit with a ResourceError before building it:

    zoo.create("tabm", d_in=1_000_000)                        # refused: 545 million elements
    zoo.create("tabm", d_in=1_000_000, max_params=10**9)      # allowed for this call
    PAPERZOO_MAX_PARAMS=1000000000 zoo eval DIR               # allowed for this process

The count comes, in order of preference, from the plugin's `ModelSpec.count_params(config)`, from
building the model on PyTorch's meta device (shapes only, no memory), or, for a plugin that cannot
build on meta, from the real model right after building it. Allocation failures while building
come back as ResourceError too. Importing this module does not import torch.
"""

from __future__ import annotations

import functools
import itertools
import os
import sys
import threading
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, PluginError, ResourceError, ZooError

__all__ = [
    "DEFAULT_MAX_PARAMS",
    "MAX_PARAMS_ENV",
    "MAX_LIST_LENGTH",
    "MAX_INT",
    "ModelSize",
    "max_params_limit",
    "model_size",
    "meta_build_size",
    "count_module",
    "check_size",
    "allocation_error",
    "is_allocation_failure",
    "shown",
    "config_summary",
]

# The zoo's largest catalog model, Mixer-H/14, holds 432 million elements; 500 million lets every
# catalog variant through and refuses configs of a size no paper here uses (2 GB of float32).
DEFAULT_MAX_PARAMS = 500_000_000
MAX_PARAMS_ENV = "PAPERZOO_MAX_PARAMS"
# Default bounds on config values whose field declares none (see zoo.config.Config): the longest
# list a catalog config uses has 30 entries; ints past 2**31 - 1 are no size any model here takes,
# and keep products of sizes inside torch's 64-bit arithmetic far longer.
MAX_LIST_LENGTH = 256
MAX_INT = 2**31 - 1

_SIZE_CACHE_ENTRIES = 512
_size_cache: dict[tuple, ModelSize | None] = {}
_size_cache_lock = threading.Lock()

# torch's allocators say so in their RuntimeError messages (CPU, CUDA, MPS)
_ALLOCATOR_MESSAGES = ("out of memory", "not enough memory", "can't allocate memory", "cannot allocate memory",
                       "defaultcpuallocator", "tried to allocate")


def shown(value: Any, limit: int = 120) -> str:
    """repr of a user's value, shortened so that a huge one still makes a readable message (and
    costs no more than its first entries to write)."""
    if isinstance(value, (list, tuple)) and len(value) > 8:
        head = ", ".join(shown(v, 20) for v in value[:3])
        open_, close = ("[", "]") if isinstance(value, list) else ("(", ")")
        return f"{open_}{head}, ...{close} ({len(value)} entries)"
    if isinstance(value, dict):
        items = [f"{shown(k, 20)}: {shown(v, 40)}" for k, v in itertools.islice(value.items(), 8)]
        text = "{" + ", ".join(items) + (", ...}" if len(value) > 8 else "}")
    elif isinstance(value, (list, tuple)):
        items = ", ".join(shown(v, 40) for v in value)
        text = f"[{items}]" if isinstance(value, list) else f"({items}{',' if len(value) == 1 else ''})"
    else:
        text = repr(value)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


@dataclass(frozen=True)
class ModelSize:
    """Parameter and buffer elements of a model, their bytes, and how they were found."""

    elements: int
    bytes: int
    how: str  # "counted by the plugin", "meta build", "counted after building"

    def describe(self) -> str:
        return f"{self.elements:,} parameter and buffer elements ({_format_bytes(self.bytes)})"


def _format_bytes(n: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def max_params_limit(max_params: Any = None) -> int:
    """The limit in force: `max_params` when given, else $PAPERZOO_MAX_PARAMS, else the default."""
    if max_params is None:
        raw = os.environ.get(MAX_PARAMS_ENV, "").strip()
        if not raw:
            return DEFAULT_MAX_PARAMS
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{MAX_PARAMS_ENV}={shown(raw)} is not a whole number; expected a count of "
                              f"parameter and buffer elements >= 1, e.g. {MAX_PARAMS_ENV}=1000000000") from None
        if value < 1:
            raise ConfigError(f"{MAX_PARAMS_ENV}={raw} must be >= 1 (a count of parameter and buffer elements)")
        return value
    if not isinstance(max_params, int) or isinstance(max_params, bool) or max_params < 1:
        raise ConfigError(f"max_params={shown(max_params)}: expected a whole number >= 1 (parameter and buffer "
                          f"elements) or None for the default ({MAX_PARAMS_ENV} or {DEFAULT_MAX_PARAMS:,})")
    return max_params


def count_module(model: Any, how: str = "counted after building") -> ModelSize:
    """Elements and bytes of a module's parameters and buffers (each shared tensor once)."""
    tensors: dict[int, Any] = {}
    for source in ("parameters", "buffers"):
        method = getattr(model, source, None)
        if callable(method):
            for t in method():
                tensors.setdefault(id(t), t)
    return ModelSize(sum(t.numel() for t in tensors.values()),
                     sum(t.numel() * t.element_size() for t in tensors.values()), how)


def model_size(spec: Any, config: Any) -> ModelSize | None:
    """The size the model of `spec` will have with `config`, found without allocating it; None
    when the plugin cannot say (no `count_params` and its build fails on the meta device).

    Meta-build counts depend on the config alone (a saved model is rebuilt from its config), so
    they are cached by config."""
    if getattr(spec, "count_params", None) is not None:
        return _declared_size(spec, config)
    key = (spec.build, type(config), config.model_dump_json())
    with _size_cache_lock:
        if key in _size_cache:
            return _size_cache[key]
    size = _meta_size(spec, config)
    with _size_cache_lock:
        if len(_size_cache) >= _SIZE_CACHE_ENTRIES:
            _size_cache.pop(next(iter(_size_cache)))
        _size_cache[key] = size
    return size


def _declared_size(spec: Any, config: Any) -> ModelSize:
    import torch

    try:
        elements = spec.count_params(config)
    except ZooError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin's bug: say whose
        raise PluginError(f"ModelSpec.count_params of {spec.name!r} raised {type(exc).__name__}: {exc}; "
                          f"config {config_summary(config)}") from exc
    if not isinstance(elements, int) or isinstance(elements, bool) or elements < 0:
        raise PluginError(f"ModelSpec.count_params of {spec.name!r} returned {shown(elements)}; "
                          f"expected a whole number of parameter and buffer elements")
    return ModelSize(elements, elements * torch.get_default_dtype().itemsize, "counted by the plugin")


def _meta_size(spec: Any, config: Any) -> ModelSize | None:
    try:
        return meta_build_size(spec, config)
    except ZooError:
        raise
    except RuntimeError as exc:
        if "overflow" in str(exc).lower():  # sizes whose product leaves int64: far past any limit
            raise ResourceError(f"model {spec.name!r} cannot be sized: its tensor sizes overflow 64-bit "
                                f"arithmetic ({exc}); config {config_summary(config)}") from None
        return None
    except Exception:  # noqa: BLE001 - e.g. .item() on a meta tensor: the build needs real values
        return None


def meta_build_size(spec: Any, config: Any) -> ModelSize:
    """Build the model on the meta device (shapes, no memory) and count it; raises what the build
    raises. Global random generators are left as they were."""
    states = _rng_states()
    try:
        with _meta_mode_class()(meta_build_size.__code__):
            model = spec.build(config)
    finally:
        _restore_rng_states(states)
    return count_module(model, "meta build")


def _rng_states() -> list:
    """Global generators a build may draw from: the meta build must leave them untouched, so that
    a seeded `zoo.create` gives the same weights whether or not the size was cached."""
    import random

    import torch

    states = [(torch.set_rng_state, torch.get_rng_state()), (random.setstate, random.getstate())]
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        states.append((numpy.random.set_state, numpy.random.get_state()))
    if torch.cuda.is_initialized():
        states.append((torch.cuda.set_rng_state_all, torch.cuda.get_rng_state_all()))
    return states


def _restore_rng_states(states: list) -> None:
    for setter, state in states:
        setter(state)


def _value_only_ops() -> frozenset:
    """In-place ops that change values, never shapes: on meta tensors there are no values, so the
    meta build skips them (initialisers are most of its cost)."""
    import torch
    from torch.nn import init

    names = ("uniform_ normal_ fill_ zero_ copy_ mul_ add_ sub_ div_ clamp_ clamp_min_ clamp_max_ exponential_ "
             "bernoulli_ random_ log_normal_ cauchy_ geometric_ erfinv_ abs_ sqrt_ exp_ log_ neg_ sign_ "
             "masked_fill_ fmod_ remainder_ trunc_ floor_ ceil_ round_ sin_ cos_ tanh_ sigmoid_ addcmul_ "
             "addcdiv_ lerp_ pow_ reciprocal_").split()
    ops = {getattr(torch.Tensor, n) for n in names if hasattr(torch.Tensor, n)}
    ops |= {getattr(init, n) for n in dir(init) if n.endswith("_") and not n.startswith("_")}
    return frozenset(ops)


@functools.lru_cache(maxsize=None)
def _meta_mode_class() -> type:
    """The TorchFunctionMode of the meta build (defined on first use: importing this module does
    not import torch)."""
    import torch
    from torch.overrides import TorchFunctionMode

    try:
        from torch.utils._device import _device_constructors  # what `with torch.device(...)` redirects

        constructors = frozenset(_device_constructors())
    except ImportError:  # a private name of torch: fall back to the common factories
        constructors = frozenset({torch.empty, torch.zeros, torch.ones, torch.full, torch.rand, torch.randn,
                                  torch.randint, torch.arange, torch.linspace, torch.eye, torch.tensor,
                                  torch.as_tensor})
    value_only = _value_only_ops()

    class MetaMode(TorchFunctionMode):
        """Tensor factories make meta tensors, except while a module is being imported: a
        module-level constant created then must stay a real tensor for the real builds after it."""

        def __init__(self, stop_code):
            super().__init__()
            self.stop_code = stop_code  # the frame that started the build: imports happen below it

        def __torch_function__(self, func, types, args=(), kwargs=None):
            kwargs = kwargs or {}
            if func in value_only and args and isinstance(args[0], torch.Tensor) and args[0].is_meta:
                return args[0]
            # an explicit device is kept, as `with torch.device(...)` does: libraries compute small
            # constants on device="cpu" and read them back
            if func in constructors and kwargs.get("device") is None and not self._importing():
                kwargs["device"] = "meta"
            return func(*args, **kwargs)

        def _importing(self) -> bool:
            frame = sys._getframe(2)
            while frame is not None and frame.f_code is not self.stop_code:
                if frame.f_code.co_name == "<module>":
                    return True
                frame = frame.f_back
            return False

    return MetaMode


def config_summary(config: Any) -> str:
    """'d_in=1000000, d_block=65536': the values that differ from the config class's defaults."""
    try:
        defaults = type(config)().model_dump()
    except Exception:  # noqa: BLE001 - a config class without complete defaults
        defaults = {}
    values = config.model_dump()
    changed = {k: v for k, v in values.items() if defaults.get(k, object()) != v}
    return ", ".join(f"{k}={shown(v, 60)}" for k, v in changed.items()) or "(defaults)"


def check_size(model_name: str, size: ModelSize, limit: int, config: Any) -> None:
    """ResourceError when `size` is over `limit`, naming the model, its config, sizes and the limit."""
    if size.elements <= limit:
        return
    when = "before building it" if size.how != "counted after building" else "after building it"
    raise ResourceError(
        f"model {model_name!r} with {config_summary(config)} would hold {size.describe()}, over the limit of "
        f"{limit:,} (refused {when}). If you mean it, raise the limit: zoo.create(..., max_params=N) or the "
        f"environment variable {MAX_PARAMS_ENV}=N")


def is_allocation_failure(exc: BaseException) -> bool:
    """Whether `exc` says that memory could not be allocated."""
    if isinstance(exc, MemoryError):
        return True
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(exc, getattr(torch, "OutOfMemoryError", ())):
        return True
    return isinstance(exc, RuntimeError) and any(m in str(exc).lower() for m in _ALLOCATOR_MESSAGES)


def allocation_error(what: str, size: ModelSize | None, config: Any, exc: BaseException) -> ResourceError:
    """The ResourceError for an allocation failure `exc` while making `what`, naming its size."""
    sizes = size.describe() if size is not None else "a size the plugin could not tell before building"
    first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ResourceError(f"allocating {what} with {config_summary(config)} ({sizes}) failed: {first_line}. "
                         f"Free memory, or choose smaller config values")
