"""The Registry: merges catalogs, answers list/info from catalog data alone, and creates models
by loading only the one plugin that provides them. The module-level API is a default instance."""

from __future__ import annotations

import contextlib

import fnmatch
import inspect
import re
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from . import hookspecs
from .catalog import Catalog, MethodEntry, ModelEntry, ModelSummary, TaskEntry, Weights, load_catalog
from .errors import (
    CatalogError,
    ConfigError,
    ConfigTypeError,
    PluginError,
    ResourceError,
    UnknownNameError,
    ZooError,
    did_you_mean,
)
from .discovery import (
    CatalogSource,
    Failure,
    PluginLoader,
    PluginStatus,
    discover_catalog_sources,
    discover_plugin_entry_points,
    strict_from_env,
)
from .limits import (
    allocation_error,
    check_size,
    config_summary,
    count_module,
    is_allocation_failure,
    max_params_limit,
    model_size,
    shown,
)

__all__ = ["Registry", "ModelIdentity", "split_name", "natural_key", "default_registry", "set_default_registry"]


def natural_key(text: str) -> list:
    """Sort key that orders 'mixer-b16' before 'mixer-b32' and 'x2' before 'x10'."""
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", text)]


def split_name(name: str) -> tuple[str, str | None]:
    """'kan.feynman-i-6-2a' -> ('kan', 'feynman-i-6-2a'); 'kan' -> ('kan', None)."""
    if not isinstance(name, str) or not name:
        raise UnknownNameError(f"model name must be a non-empty string, got {shown(name)}")
    arch, dot, tag = name.partition(".")
    if not arch or (dot and not tag):
        raise UnknownNameError(f"model name {shown(name)} is not 'arch' or 'arch.tag' (e.g. 'kan' or 'kan.toy-exp-sin')")
    return arch, (tag if dot else None)


@dataclass(frozen=True)
class ModelIdentity:
    """What the zoo knows about a model it built; attached as ``model.zoo_identity``."""

    architecture: str
    config: Any  # the validated zoo.Config instance
    plugin: str
    distribution: str | None
    distribution_version: str | None
    variant: str | None = None
    weights: str | None = None  # pretrained tag loaded into the model, if any


class Registry:
    """One isolated view of catalogs and plugins.

    With no arguments it discovers installed catalogs and plugins through entry points on first
    use. Tests pass `catalogs` (paths or Catalog objects) and `plugins` ({name: "module"} or
    EntryPoint objects) to build registries that see nothing else.
    """

    def __init__(
        self,
        catalogs: list | None = None,
        plugins: dict[str, str] | list[EntryPoint] | None = None,
        *,
        strict: bool | None = None,
    ):
        self.strict = strict_from_env() if strict is None else strict
        self._catalog_arg = catalogs
        self._plugin_arg = plugins
        self._ready = False

    # --- assembly (lazy, so `import zoo` stays cheap) ------------------------------------------

    def _setup(self) -> None:
        if self._ready:
            return
        self.catalog_failures: list[tuple[str, Failure]] = []
        self.catalogs: list[Catalog] = []
        installed = entry_points() if self._catalog_arg is None or self._plugin_arg is None else None
        for source in self._catalog_sources(installed):
            if isinstance(source, Catalog):
                catalog = source
            else:
                try:
                    catalog = load_catalog(source.path, source.distribution)
                except CatalogError as exc:
                    self._catalog_failure(source.distribution or source.path, str(exc), exc)
                    continue
            for exc in catalog.errors:
                self._catalog_failure(catalog.distribution or catalog.path, str(exc), exc)
            self.catalogs.append(catalog)
        self._loader = PluginLoader(self._plugin_entry_points(installed), strict=self.strict)
        self._models: dict[str, ModelSummary] = {}  # what listing reads; info() builds the full entry
        self._model_catalogs: dict[str, Catalog] = {}
        self._entries: dict[str, ModelEntry] = {}
        self._tasks: dict[str, TaskEntry] = {}
        self._methods: dict[str, MethodEntry] = {}
        for catalog in self.catalogs:
            for kind, entries, table in (("model", catalog.summaries, self._models),
                                         ("task", catalog.tasks, self._tasks),
                                         ("method", catalog.methods, self._methods)):
                for entry in entries:
                    self._claim(kind, entry, table)
            for summary in catalog.summaries:
                if self._models[summary.name] is summary:
                    self._model_catalogs[summary.name] = catalog
        self._model_specs: dict[str, hookspecs.ModelSpec] = {}
        self._task_specs: dict[str, hookspecs.TaskSpec] = {}
        self._method_specs: dict[str, hookspecs.MethodSpec] = {}
        self._filed: set[str] = set()
        self._sorted: dict[str, list] = {}
        self._ready = True

    def _catalog_sources(self, installed) -> list:
        if self._catalog_arg is None:
            sources, failures = discover_catalog_sources(installed)
            for owner, failure in failures:
                self._catalog_failure(owner, failure.message, None)
            return sources
        return [c if isinstance(c, (Catalog, CatalogSource)) else CatalogSource(str(c), None)
                for c in self._catalog_arg]

    def _plugin_entry_points(self, installed) -> list[EntryPoint]:
        if self._plugin_arg is None:
            return discover_plugin_entry_points(installed)
        if isinstance(self._plugin_arg, dict):
            return [EntryPoint(name, value, hookspecs.PLUGIN_GROUP) for name, value in self._plugin_arg.items()]
        return list(self._plugin_arg)

    def _catalog_failure(self, owner: str, message: str, exc: BaseException | None) -> None:
        if self.strict:
            raise CatalogError(message) from exc
        self.catalog_failures.append((owner, Failure("catalog", message)))

    def _claim(self, kind: str, entry, table: dict) -> None:
        """First claim wins; a later claim of the same name is refused and kept as an error of
        the plugin that made it. Nothing is overwritten."""
        owner = table.get(entry.name)
        if owner is None:
            table[entry.name] = entry
            return
        message = (f"{kind} name {entry.name!r} is declared by plugin {entry.plugin!r} in {entry.source} "
                   f"and already by plugin {owner.plugin!r} in {owner.source}; keeping the first")
        if entry.plugin in self._loader.statuses:
            self._loader.note(entry.plugin, Failure("collision", message))
        else:
            self._catalog_failure(entry.source, message, None)

    # --- catalog queries (no plugin code runs here) ----------------------------------------------

    def list_models(self, pattern: str | list[str] = "*", *, task: str | None = None,
                    pretrained: bool = False, family: str | None = None) -> list[str]:
        """Model names matching shell-style pattern(s), case-insensitive, naturally sorted.

        With ``pretrained=True`` lists ``name.tag`` for every catalogued checkpoint instead.
        """
        self._setup()
        patterns = [pattern] if isinstance(pattern, str) else list(pattern)
        listing = self._listing(pretrained)
        if task is not None or family is not None:
            listing = [(name, entry) for name, entry in listing
                       if (task is None or task in entry.tasks) and (family is None or entry.family == family)]
        if "*" in patterns:
            return [name for name, _ in listing]
        matchers = [re.compile(fnmatch.translate(p.lower())).match for p in patterns]
        return [name for name, _ in listing if any(match(name.lower()) for match in matchers)]

    def _listing(self, pretrained: bool) -> list[tuple[str, ModelSummary]]:
        """(name, summary) pairs in natural order, sorted once per registry."""
        key = "pretrained" if pretrained else "models"
        if key not in self._sorted:
            pairs = ([(f"{e.name}.{tag}", e) for e in self._models.values() for tag in e.tags] if pretrained
                     else [(e.name, e) for e in self._models.values()])
            self._sorted[key] = sorted(pairs, key=lambda pair: natural_key(pair[0]))
        return self._sorted[key]

    def info(self, name: str) -> ModelEntry:
        """The catalog entry of a model ('kan' or 'kan.<tag>')."""
        self._setup()
        arch, tag = split_name(name)
        entry = self._entries.get(arch)
        if entry is None:
            if arch not in self._models:
                raise UnknownNameError(f"unknown model {arch!r}.{did_you_mean(arch, self._models)}"
                                       + ("" if self._models else " No catalog is installed."))
            entry = self._entries[arch] = self._model_catalogs[arch].model(arch)
        if tag is not None:
            self._weights(entry, tag)
        return entry

    def _weights(self, entry: ModelEntry, tag: str | None) -> Weights:
        if not entry.weights:
            raise UnknownNameError(f"model {entry.name!r} has no pretrained weights in the catalog")
        if tag is None:
            return next(iter(entry.weights.values()))
        if tag not in entry.weights:
            raise UnknownNameError(f"model {entry.name!r} has no weights tagged {tag!r}."
                                   f"{did_you_mean(tag, entry.weights)} Tags: {', '.join(entry.weights)}")
        return entry.weights[tag]

    def list_tasks(self, pattern: str = "*", *, kind: str | None = None) -> list[str]:
        self._setup()
        return sorted((t.name for t in self._tasks.values()
                       if fnmatch.fnmatch(t.name.lower(), pattern.lower()) and (kind is None or t.kind == kind)),
                      key=natural_key)

    def task_info(self, name: str) -> TaskEntry:
        self._setup()
        if not isinstance(name, str) or not name:
            raise UnknownNameError(f"task name must be a non-empty string, got {shown(name)}")
        if name not in self._tasks:
            raise UnknownNameError(f"unknown task {name!r}.{did_you_mean(name, self._tasks)}")
        return self._tasks[name]

    def list_methods(self, pattern: str = "*") -> list[str]:
        self._setup()
        return sorted((m for m in self._methods if fnmatch.fnmatch(m, pattern)), key=natural_key)

    def method_info(self, name: str) -> MethodEntry:
        self._setup()
        if not isinstance(name, str) or not name:
            raise UnknownNameError(f"method name must be a non-empty string, got {shown(name)}")
        if name not in self._methods:
            raise UnknownNameError(f"unknown method {name!r}.{did_you_mean(name, self._methods)}")
        return self._methods[name]

    # --- plugin-backed lookups ------------------------------------------------------------------

    def _load_plugin(self, name: str) -> None:
        """Import one plugin and file the specs it returns under the names its catalog gave it."""
        results = self._loader.load(name)
        if name in self._filed:
            return
        self._filed.add(name)
        status = self._loader.statuses[name]
        for hook, table, catalog in (("zoo_models", self._model_specs, self._models),
                                     ("zoo_tasks", self._task_specs, self._tasks),
                                     ("zoo_methods", self._method_specs, self._methods)):
            for spec in results.get(hook, []):
                declared = catalog.get(spec.name)
                if declared is None or declared.plugin != name:
                    where = ("no catalog declares it" if declared is None
                             else f"the catalog gives it to plugin {declared.plugin!r} ({declared.source})")
                    self._loader.note(name, Failure("collision" if declared else "hook",
                                                    f"{hook}() returned {spec.name!r}, but {where}; ignored"))
                    continue
                table[spec.name] = spec
                status.provides.append(spec.name)

    def _spec(self, kind: str, entry, table: dict):
        if entry.name not in table:
            if entry.plugin not in self._loader.statuses:
                raise PluginError(
                    f"{kind} {entry.name!r} is provided by plugin {entry.plugin!r} ({entry.source}), "
                    f"but no installed package has an entry point {entry.plugin!r} in group "
                    f"{hookspecs.PLUGIN_GROUP!r}. Install the distribution that provides it."
                )
            self._load_plugin(entry.plugin)
        if entry.name in table:
            return table[entry.name]
        status = self._loader.statuses[entry.plugin]
        detail = "; ".join(f"[{f.stage}] {f.message}" for f in status.failures) or \
            f"its hooks do not return a {kind} named {entry.name!r}"
        raise PluginError(f"plugin {entry.plugin!r} cannot provide {kind} {entry.name!r}: {detail}. "
                          f"Run 'zoo plugins --verbose' for the traceback.")

    def model_spec(self, name: str) -> hookspecs.ModelSpec:
        return self._spec("model", self.info(split_name(name)[0]), self._model_specs)

    def task_spec(self, name: str) -> hookspecs.TaskSpec:
        return self._spec("task", self.task_info(name), self._task_specs)

    def method_spec(self, name: str) -> hookspecs.MethodSpec:
        return self._spec("method", self.method_info(name), self._method_specs)

    def method(self, name: str, /, **options):
        """A training method by name, ready for ``zoo.train(..., methods=[...])`` (or, for a procedure
        of several runs, ``.run(model, task, ...)``). `options` are its config fields (listed by
        ``zoo info NAME``) and the objects it takes (e.g. teacher=); an unknown or ill-typed one is
        a ConfigError that lists the valid fields."""
        build = self.method_spec(name).build
        # a zoo.Method subclass (checked by its shape: the registry does not import the training code)
        if not (isinstance(build, type) and callable(getattr(build, "describe", None)) and hasattr(build, "Config")):
            raise PluginError(f"plugin {self.method_info(name).plugin!r} gives method {name!r} a builder "
                              f"{build!r:.80} that is not a zoo.Method subclass")
        if build.name != name:
            raise PluginError(f"method {name!r}: its class {build.__name__} is named {build.name!r}; set "
                              f"name = {name!r} on the class")
        return build(**options)

    def get_task(self, name: str, /, **options):
        """Build a task object (data, loss, metrics) by name; `options` are its builder's keyword
        arguments (seed, sizes...), checked against the builder's signature."""
        spec = self.task_spec(name)
        valid = _keyword_options(spec.build)
        if valid is not None:
            _check_options(name, options, valid)
        try:
            task = spec.build(**options)
        except ZooError:
            raise
        except TypeError as exc:
            bad = _refused_option(exc, options)
            if bad is None:
                raise _task_failure(name, options, exc) from exc
            callee = _callee(exc)
            valid = _keyword_options(callee, with_default_only=True) if callee is not None else None
            if valid is not None and bad not in valid:
                _check_options(name, options, valid)
            raise ConfigTypeError(f"task {name!r} does not take the option {bad!r} ({exc})") from None
        except Exception as exc:  # noqa: BLE001 - every failure comes back as a zoo error naming the task
            raise _task_failure(name, options, exc) from exc
        with contextlib.suppress(AttributeError):  # a task class that refuses attributes records none
            task.build_options = dict(options)
        return task

    def resolve_config(self, name: str, *, variant: str | None = None, task: Any = None, **overrides):
        """The validated config `create` would build: variant, then weights, then task sizing,
        then explicit overrides, each later one winning. Returns (variant, weights, config)."""
        _, _, variant, weights, cfg = self._resolve(name, variant, task, overrides)
        return variant, weights, cfg

    def _resolve(self, name: str, variant: str | None, task: Any, overrides: dict):
        from .config import validate_config

        arch, tag = split_name(name)
        entry = self.info(name)
        if variant is not None and not isinstance(variant, str):
            raise UnknownNameError(f"variant={shown(variant)}: expected the name of a variant of {arch!r} (a str) "
                                   f"or None. Variants: {', '.join(entry.variants)}")
        spec = self._spec("model", entry, self._model_specs)
        weights = self._weights(entry, tag) if tag else None
        variant = variant or (weights.variant if weights else None) or entry.default_variant
        if variant not in entry.variants:
            raise UnknownNameError(f"model {arch!r} has no variant {variant!r}."
                                   f"{did_you_mean(variant, entry.variants)} Variants: {', '.join(entry.variants)}")
        values = dict(entry.variants[variant])
        if weights is not None:
            values.update(weights.config)
        if task is not None:
            values.update(self._size_for_task(arch, spec, task, values, overrides))
        values.update(overrides)
        return entry, spec, variant, weights, validate_config(spec.config, values, arch)

    def _size_for_task(self, arch: str, spec: hookspecs.ModelSpec, task: Any, values: dict, overrides: dict) -> dict:
        """The config values `spec.from_task` derives from a task (a name or a task object)."""
        from .config import validate_config
        from .tasks import TaskInfo

        if not isinstance(task, str) and not isinstance(getattr(task, "info", None), TaskInfo):
            raise ConfigError(f"task={shown(task)}: expected a task name (str), a zoo.tasks.Task (an object whose "
                              f"`info` is a zoo.tasks.TaskInfo) or None")
        if spec.from_task is None:
            raise ConfigError(f"model {arch!r} does not say how to size itself for a task; "
                              f"pass its config values explicitly")
        task_obj = self.get_task(task) if isinstance(task, str) else task
        label = repr(task) if isinstance(task, str) else repr(getattr(task_obj, "name", None) or type(task_obj).__name__)
        try:
            sizing = spec.from_task({**values, **overrides}, task_obj.info)
        except ZooError:
            raise
        except Exception as exc:  # noqa: BLE001 - often a bad override it read: name that first
            validate_config(spec.config, {**values, **overrides}, arch)
            info = task_obj.info
            raise ConfigError(f"model {arch!r} cannot be sized for task {label} ({info.kind}, inputs "
                              f"{tuple(info.input_shape)}, output_dim {info.output_dim}): "
                              f"{type(exc).__name__}: {exc}") from exc
        if not isinstance(sizing, dict):
            raise PluginError(f"from_task of model {arch!r} returned {shown(sizing)}; expected a dict of config values")
        return sizing

    def create(self, name: str, *, pretrained: bool = False, variant: str | None = None,
               task: Any = None, max_params: int | None = None, **config):
        """Build a model by catalog name, with a validated config.

        name: 'arch' or 'arch.tag' (a pretrained tag selects that checkpoint's config).
        pretrained: load the catalog weights (the tag's, else the model's first listed).
        variant: a named config preset from the catalog (default: the catalog's default).
        task: a task name or object; sizes inputs/outputs through the model's `from_task`.
        max_params: refuse a model of more parameter and buffer elements than this, before
            allocating it (ResourceError); None: $PAPERZOO_MAX_PARAMS, else zoo.limits.DEFAULT_MAX_PARAMS.
        config: explicit config values, checked against the architecture's typed config.
        """
        if not isinstance(pretrained, bool):
            raise ConfigError(f"pretrained={shown(pretrained)}: expected True or False")
        limit = max_params_limit(max_params)
        requested = variant
        entry, spec, variant, weights, cfg = self._resolve(name, variant, task, config)
        if pretrained and weights is None:  # no tag given: the catalog's first checkpoint, as its tag would build it
            weights = self._weights(entry, None)
            entry, spec, variant, weights, cfg = self._resolve(f"{entry.name}.{weights.tag}", requested, task,
                                                               config)
        size = model_size(spec, cfg)
        if size is not None:
            check_size(entry.name, size, limit, cfg)
        try:
            model = self._build(entry, spec, cfg)
            if size is None:  # the plugin could not tell before building: hold it to the limit now
                size = count_module(model)
                if size.elements > limit:
                    del model
                    check_size(entry.name, size, limit, cfg)
            status = self._loader.statuses[entry.plugin]
            try:
                model.zoo_identity = ModelIdentity(entry.name, cfg, entry.plugin, status.distribution, status.version,
                                                   variant, weights.tag if pretrained else None)
            except (AttributeError, TypeError):
                raise PluginError(f"plugin {entry.plugin!r} built {type(model).__name__} for model {entry.name!r}; "
                                  f"expected a torch.nn.Module") from None
            if pretrained:
                from .catalog_weights import load_catalog_weights

                load_catalog_weights(model, entry, weights)
        except ZooError:
            raise
        except Exception as exc:  # noqa: BLE001 - allocation failures become ResourceErrors, the rest stays
            if is_allocation_failure(exc):
                raise allocation_error(f"model {entry.name!r}", size, cfg, exc) from exc
            raise
        return model

    def _build(self, entry: ModelEntry, spec: hookspecs.ModelSpec, cfg):
        """`spec.build(cfg)`; a failure other than an allocation comes back as a zoo error naming
        the model and its config (ValueError: the config; anything else: the plugin)."""
        try:
            return spec.build(cfg)
        except ZooError:
            raise
        except Exception as exc:  # noqa: BLE001
            if is_allocation_failure(exc):
                raise
            kind = ConfigError if isinstance(exc, ValueError) else PluginError
            raise kind(f"plugin {entry.plugin!r} could not build model {entry.name!r} with "
                       f"{config_summary(cfg)}: {type(exc).__name__}: {exc}") from exc

    # --- status ------------------------------------------------------------------------------------

    def plugins(self, load: bool = True) -> list[PluginStatus]:
        """Status of every plugin (importing each, unless load=False), failures included."""
        self._setup()
        if load:
            for name in list(self._loader.statuses):
                self._load_plugin(name)
            self._check_catalog_against_plugins()
        return list(self._loader.statuses.values()) + self._loader.shadowed

    def _check_catalog_against_plugins(self) -> None:
        """After loading everything: catalog names whose plugin is absent or does not provide them."""
        for table, specs, kind in ((self._models, self._model_specs, "model"),
                                   (self._tasks, self._task_specs, "task"),
                                   (self._methods, self._method_specs, "method")):
            for entry in table.values():
                status = self._loader.statuses.get(entry.plugin)
                if status is None:
                    message = (f"{kind} {entry.name!r} names plugin {entry.plugin!r}, which is not "
                               f"installed (no entry point in {hookspecs.PLUGIN_GROUP!r})")
                    if all(f.message != message for _, f in self.catalog_failures):
                        self._catalog_failure(entry.source, message, None)
                elif status.state == "ok" and entry.name not in specs:
                    message = f"its catalog declares {kind} {entry.name!r}, but its hooks do not return it"
                    if all(f.message != message for f in status.failures):
                        self._loader.note(entry.plugin, Failure("missing", message))
                elif status.state == "ok" and kind != "task":
                    full = self.info(entry.name) if kind == "model" else self.method_info(entry.name)
                    message = self._config_problem(kind, full, specs[entry.name])
                    if message and all(f.message != message for f in status.failures):
                        self._loader.note(entry.plugin, Failure("config", message))

    @staticmethod
    def _config_problem(kind: str, entry, spec) -> str | None:
        """Whether the catalog documents the config class the plugin builds with (zoo info and the
        docs show the catalog's fields), with the block to paste where it does not."""
        from .config import Config, catalog_config_problem

        config_class = spec.config if kind == "model" else getattr(spec.build, "Config", None)
        if not (isinstance(config_class, type) and issubclass(config_class, Config)):
            return None  # a broken spec is reported where it is used
        return catalog_config_problem(entry, config_class, f"config block of {kind} {entry.name!r}")

    def doctor(self) -> list[tuple[str, Failure]]:
        """Every failure known after loading all plugins: (owner, failure) pairs."""
        statuses = self.plugins(load=True)
        found = list(self.catalog_failures)
        for status in statuses:
            found += [(status.name, f) for f in status.failures]
        return found


def _keyword_options(build: Any, *, with_default_only: bool = False) -> list[str] | None:
    """The keyword options `build` takes, or None when it takes any (**options) or has no signature."""
    try:
        signature = inspect.signature(build)
    except (TypeError, ValueError):
        return None
    params = signature.parameters.values()
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and not (with_default_only and p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD)]


def _check_options(task: str, options: dict, valid: list[str]) -> None:
    for key in options:
        if key not in valid:
            listed = ", ".join(valid) if valid else "none"
            raise ConfigTypeError(f"task {task!r} has no option {key!r}.{did_you_mean(key, valid)} "
                                  f"Valid options: {listed}")


_BINDING = re.compile(r"^(?P<callee>[\w.<>]+)\(\) (got an unexpected keyword argument|got multiple values for "
                      r"(keyword )?argument) '(?P<key>\w+)'")


def _refused_option(exc: TypeError, options: dict) -> str | None:
    """The option a call refused when `exc` is a binding error about one of `options`."""
    match = _BINDING.match(str(exc))
    return match["key"] if match and match["key"] in options else None


def _callee(exc: TypeError) -> Any:
    """The function or class a binding error names, looked up in the frame that made the call
    (a builder forwarding **options to its task class)."""
    name = _BINDING.match(str(exc))["callee"]
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return None
    frame = tb.tb_frame
    for value in (*frame.f_locals.values(), *frame.f_globals.values()):
        qualname = getattr(value, "__qualname__", None)
        init = getattr(getattr(value, "__init__", None), "__qualname__", None) if isinstance(value, type) else None
        if name in (qualname, init):
            return value
    return None


def _task_failure(name: str, options: dict, exc: BaseException) -> ZooError:
    if is_allocation_failure(exc):
        return ResourceError(f"building task {name!r} with options {shown(options)} ran out of memory: {exc}. "
                             f"Choose smaller sizes")
    given = f" with options {shown(options)}" if options else ""
    if options:  # the options are what the user chose: name them first
        kind = ConfigTypeError if isinstance(exc, TypeError) else ConfigError
        return kind(f"task {name!r} refused{given}: {type(exc).__name__}: {exc}")
    return PluginError(f"task {name!r} failed to build{given}: {type(exc).__name__}: {exc}")


_default: Registry | None = None


def default_registry() -> Registry:
    global _default
    if _default is None:
        _default = Registry()
    return _default


def set_default_registry(registry: Registry | None) -> None:
    """Replace (or with None, reset) the registry the module-level API uses."""
    global _default
    _default = registry
