"""Plugin discovery and loading with fault isolation: find catalogs and plugin entry points,
import one plugin on demand, and keep every failure (with its traceback) instead of raising."""

from __future__ import annotations

import functools
import importlib.util
import os
import traceback
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from pathlib import Path

import pluggy

from . import hookspecs
from .errors import CatalogError, PluginError

__all__ = [
    "Failure",
    "PluginStatus",
    "CatalogSource",
    "PluginLoader",
    "discover_catalog_sources",
    "discover_plugin_entry_points",
    "strict_from_env",
]

STRICT_ENV = "PAPERZOO_STRICT_PLUGINS"
HOOKS = ("zoo_models", "zoo_tasks", "zoo_methods")
SPEC_TYPES = {
    "zoo_models": hookspecs.ModelSpec,
    "zoo_tasks": hookspecs.TaskSpec,
    "zoo_methods": hookspecs.MethodSpec,
}


def strict_from_env() -> bool:
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass
class Failure:
    """One thing that went wrong with a plugin or catalog: at which stage, why, and where."""

    stage: str  # catalog | import | register | hook | collision | missing | config
    message: str
    traceback: str = ""


@dataclass
class PluginStatus:
    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    state: str = "not loaded"  # not loaded | ok | failed
    provides: list[str] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state != "failed" and not self.failures


@dataclass(frozen=True)
class CatalogSource:
    """Where one distribution's catalog file is, found without importing the distribution."""

    path: str
    distribution: str | None
    version: str | None = None


def _dist_of(ep: EntryPoint) -> tuple[str | None, str | None]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    return _name_and_version(dist)


@functools.lru_cache(maxsize=256)
def _name_and_version(dist) -> tuple[str | None, str | None]:
    # reading METADATA parses an email message; a distribution's many entry points share one parse
    metadata = dist.metadata
    return metadata["Name"], metadata["Version"]


def _locate_resource(value: str) -> Path:
    """'package:resource' -> file path, via find_spec so the package's code never runs
    (for a dotted package, only its parents are imported)."""
    package, sep, resource = value.partition(":")
    if not sep or not package or not resource:
        raise CatalogError(f"catalog entry point {value!r}: expected 'package:resource.yaml'")
    spec = importlib.util.find_spec(package)
    if spec is None:
        raise CatalogError(f"catalog entry point {value!r}: package {package!r} is not importable")
    locations = list(spec.submodule_search_locations or [])
    if not locations and spec.origin:
        locations = [str(Path(spec.origin).parent)]
    for location in locations:
        candidate = Path(location) / resource
        if candidate.is_file():
            return candidate
    raise CatalogError(f"catalog entry point {value!r}: no file {resource!r} in {locations}")


def discover_catalog_sources(installed=None) -> tuple[list[CatalogSource], list[tuple[str, Failure]]]:
    """Every installed catalog, the zoo's own first, then by distribution name. `installed`: the
    result of one `importlib.metadata.entry_points()` scan to reuse (scanning costs milliseconds)."""
    sources, failures = [], []
    for ep in (installed if installed is not None else entry_points()).select(group=hookspecs.CATALOG_GROUP):
        dist, version = _dist_of(ep)
        try:
            path = _locate_resource(ep.value)
        except CatalogError as exc:
            failures.append((dist or ep.name, Failure("catalog", str(exc))))
            continue
        sources.append(CatalogSource(str(path), dist, version))
    sources.sort(key=lambda s: (s.distribution != hookspecs.PROJECT, s.distribution or ""))
    return sources, failures


def discover_plugin_entry_points(installed=None) -> list[EntryPoint]:
    """Plugin entry points, the zoo's own first, then by distribution and name (stable precedence)."""
    eps = list((installed if installed is not None else entry_points()).select(group=hookspecs.PLUGIN_GROUP))
    eps.sort(key=lambda ep: ((_dist_of(ep)[0] or "") != hookspecs.PROJECT, _dist_of(ep)[0] or "", ep.name))
    return eps


def _format_exc(exc: BaseException) -> str:
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


class PluginLoader:
    """Loads plugins one at a time into a private pluggy PluginManager.

    A plugin that fails to import, fails hook validation, raises in a hook or returns bad
    records is marked failed with its traceback; nothing it returned is used. With
    ``strict=True`` the first failure is raised instead, for plugin authors.
    """

    def __init__(self, entry_points_: list[EntryPoint], strict: bool = False):
        self.strict = strict
        self.manager = pluggy.PluginManager(hookspecs.PROJECT)
        self.manager.add_hookspecs(hookspecs)
        self.statuses: dict[str, PluginStatus] = {}
        self.shadowed: list[PluginStatus] = []  # same entry-point name from a later distribution
        self._entry_points: dict[str, EntryPoint] = {}
        self._results: dict[str, dict[str, list]] = {}
        for ep in entry_points_:
            dist, version = _dist_of(ep)
            status = PluginStatus(ep.name, ep.value, dist, version)
            if ep.name in self.statuses:
                owner = self.statuses[ep.name]
                self._fail(status, Failure(
                    "collision",
                    f"plugin name {ep.name!r} from {dist or '?'} is already taken by "
                    f"{owner.distribution or '?'} ({owner.module}); this one is not loaded",
                ))
                self.shadowed.append(status)
                continue
            self.statuses[ep.name] = status
            self._entry_points[ep.name] = ep

    def _fail(self, status: PluginStatus, failure: Failure, exc: BaseException | None = None) -> None:
        status.failures.append(failure)
        status.state = "failed"
        if self.strict:
            raise PluginError(f"plugin {status.name!r} ({status.module}): {failure.message}") from exc

    def note(self, name: str, failure: Failure) -> None:
        """Record a problem found outside the loader (a refused name, a catalog mismatch).
        The plugin keeps working for everything else it provides."""
        self.statuses[name].failures.append(failure)
        if self.strict:
            raise PluginError(f"plugin {name!r}: {failure.message}")

    def load(self, name: str) -> dict[str, list]:
        """Import plugin `name` and call its hooks once. Returns {hook: [records]}; empty if it failed."""
        if name in self._results:
            return self._results[name]
        status = self.statuses[name]
        results = self._results[name] = {}
        known_problems = len(status.failures)  # notes made before loading (e.g. a refused catalog name)
        ep = self._entry_points[name]
        try:
            module = ep.load()
        except (Exception, SystemExit) as exc:
            self._fail(status, Failure("import", f"cannot import {ep.value!r}: {type(exc).__name__}: {exc}",
                                       _format_exc(exc)), exc)
            return results
        try:
            self.manager.register(module, name=name)
            self.manager.check_pending()
        except Exception as exc:
            if self.manager.is_registered(module):
                self.manager.unregister(module)
            self._fail(status, Failure("register", f"invalid hook implementation: {exc}", _format_exc(exc)), exc)
            return results
        for hook in HOOKS:
            for impl in getattr(self.manager.hook, hook).get_hookimpls():
                if impl.plugin_name != name:
                    continue
                try:
                    records = impl.function()
                except (Exception, SystemExit) as exc:
                    self._fail(status, Failure("hook", f"{hook}() raised {type(exc).__name__}: {exc}",
                                               _format_exc(exc)), exc)
                    continue
                problem = _check_records(hook, records)
                if problem:
                    self._fail(status, Failure("hook", f"{hook}() {problem}"))
                    continue
                results.setdefault(hook, []).extend(records)
        if len(status.failures) > known_problems:
            results.clear()
            self.manager.unregister(module)
        else:
            status.state = "ok"
        return results


def _check_records(hook: str, records: object) -> str:
    kind = SPEC_TYPES[hook]
    if records is None:
        return "returned None; return a list (empty if the plugin provides none)"
    if not isinstance(records, (list, tuple)):
        return f"returned {type(records).__name__}; expected a list of {kind.__name__}"
    for i, record in enumerate(records):
        if not isinstance(record, kind):
            return f"item {i} is {type(record).__name__} {record!r}; expected {kind.__name__}"
    names = [r.name for r in records]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        return f"returned the name(s) {dupes} more than once"
    return ""
