"""The zoo's exception types: every error a user can cause is one of these, with a message that
names the offending value and says what was expected."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ZooError",
    "CatalogError",
    "ConfigError",
    "ConfigTypeError",
    "PluginError",
    "UnknownNameError",
    "WeightsError",
    "UnsafeCheckpointError",
    "IntegrityError",
    "HubError",
    "ResourceError",
    "BusyError",
    "did_you_mean",
]


class ZooError(Exception):
    """Base class of every error the zoo raises on purpose (the CLI prints these without a traceback)."""


class CatalogError(ZooError):
    """A catalog file (registry.yaml or a plugin's catalog) is malformed."""


class ConfigError(ZooError, ValueError):
    """A model config has an unknown, ill-typed or out-of-range value."""


class ConfigTypeError(ConfigError, TypeError):
    """A value of the wrong type (a model, data, callbacks, a path, a task option the builder does
    not take): a ConfigError that is also the TypeError callers caught before the zoo checked it."""


class PluginError(ZooError):
    """A plugin failed to import, raised in a hook, or returned something the zoo cannot use."""


class UnknownNameError(ZooError, KeyError):
    """A model, task, variant or weights tag that no catalog knows."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class WeightsError(ZooError):
    """A checkpoint cannot be used: missing, corrupt, or not matching the model it is loaded into."""


class UnsafeCheckpointError(WeightsError):
    """A checkpoint in a format that can run code when read (pickle: .bin, .pth, .pt, .ckpt, .pkl)."""


class IntegrityError(WeightsError):
    """A file whose sha256 differs from the pinned one; it is refused and removed from the cache."""


class HubError(ZooError):
    """The Hub (or its local cache) could not provide or accept a repo: unreachable endpoint, offline
    cache miss, missing repo, revision or file, refused upload."""


class ResourceError(ZooError):
    """A model or input over a size limit (refused before anything is allocated), or an allocation
    that failed; the message names the model, its sizes and the limit."""


class BusyError(ZooError):
    """Another writer holds the target (a run directory or a saved repo); the message names it."""


def did_you_mean(name: str, candidates: Iterable[str], n: int = 3) -> str:
    """' Did you mean 'x' or 'y'?' for the closest candidates, or '' when nothing is close."""
    pool = list(candidates)
    import difflib

    close = difflib.get_close_matches(name, pool, n=n, cutoff=0.6)
    if not close:
        lowered = name.lower()
        close = [c for c in pool if lowered in c.lower()][:n]
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"
