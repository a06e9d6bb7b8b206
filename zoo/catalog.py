"""Catalog files: parse and validate a registry.yaml into frozen records, with no torch and no
plugin code. The schema is documented in docs/pages/catalog-schema.md; every error names the file,
the entry and the field."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Callable


from .errors import CatalogError

__all__ = [
    "SCHEMA_VERSION",
    "Paper",
    "ConfigField",
    "Weights",
    "ModelEntry",
    "TaskEntry",
    "MethodEntry",
    "ModelSummary",
    "Catalog",
    "load_catalog",
    "parse_catalog",
    "read_yaml",
]

SCHEMA_VERSION = 1
MAX_CATALOG_BYTES = 64 * 2**20

MODEL_NAME = re.compile(r"^[a-z0-9][a-z0-9-]*$")
TAG_NAME = MODEL_NAME
TASK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
GIT_SHA = re.compile(r"^[0-9a-f]{40}$")
# weights are safetensors only; a shipped file is named 'package.module:path/in/package.safetensors'
SAFETENSORS_NAME = re.compile(r"^[^/\\]+\.safetensors$")
PACKAGE_FILE = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[^:\\]+\.safetensors$")

# every field each mapping may have; docs/pages/catalog-schema.md documents each (a test checks)
TOP_FIELDS = {"schema", "models", "tasks", "methods"}
PAPER_FIELDS = {"title", "arxiv", "year", "url"}
CONFIG_FIELD_FIELDS = {"name", "type", "default", "doc"}
WEIGHTS_FIELDS = {"sha256", "filename", "file", "repo_id", "revision", "variant", "config", "license",
                  "dataset", "task", "metrics", "description", "recipe"}
MODEL_FIELDS = {"plugin", "paper", "summary", "family", "priority", "tasks", "default_variant", "variants",
                "config", "weights"}
TASK_FIELDS = {"plugin", "kind", "summary", "data", "extra"}
METHOD_FIELDS = {"plugin", "paper", "summary", "family", "priority", "kind", "needs", "tasks", "config"}
# how a method acts on training (docs/pages/methods.md): in the steps of one run, or a procedure of several runs
METHOD_KINDS = ("step", "procedure")


@dataclass(frozen=True)
class Paper:
    title: str
    arxiv: str | None = None
    year: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class ConfigField:
    """One field of an architecture's config, as documented in the catalog (checked against code)."""

    name: str
    type: str
    default: Any
    doc: str = ""


@dataclass(frozen=True)
class Weights:
    """One pretrained checkpoint of a model, pinned by content hash.

    `file` is 'package:path/in/package.safetensors', a file shipped inside an installed package
    (found first, offline); `repo_id` + `revision` say where the same bytes live on the Hub, and
    stay empty until pushed. `recipe` holds the training options (for `zoo.train`, plus `seed`)
    that reproduce the weights from `task`, used by `python -m zoo.reference`.
    """

    tag: str
    sha256: str
    filename: str = "model.safetensors"
    file: str | None = None
    repo_id: str | None = None
    revision: str | None = None
    variant: str | None = None
    config: dict = field(default_factory=dict)
    license: str | None = None
    dataset: str | None = None
    task: str | None = None
    metrics: dict = field(default_factory=dict)
    description: str = ""
    recipe: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelEntry:
    name: str
    plugin: str
    paper: Paper
    summary: str = ""
    family: str = ""
    priority: str | None = None
    tasks: tuple[str, ...] = ()
    default_variant: str = "default"
    variants: dict[str, dict] = field(default_factory=lambda: {"default": {}})
    config: tuple[ConfigField, ...] = ()
    weights: dict[str, Weights] = field(default_factory=dict)
    source: str = ""  # where the entry came from: "<distribution> (<path>)"


@dataclass(frozen=True)
class TaskEntry:
    name: str
    plugin: str
    kind: str
    summary: str = ""
    data: str = ""
    extra: str | None = None  # optional-dependency extra needed for its data
    source: str = ""


@dataclass(frozen=True)
class MethodEntry:
    name: str
    plugin: str
    paper: Paper
    summary: str = ""
    family: str = ""  # pruning, quantization, distillation, continual learning, ...
    priority: str | None = None
    kind: str = "step"  # one of METHOD_KINDS
    needs: str = ""  # what a model or task must have for it, in words
    tasks: tuple[str, ...] = ()  # tasks its reproduction uses
    config: tuple[ConfigField, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class ModelSummary:
    """What listing and name checks read of a model entry; the full entry is read when asked for."""

    name: str
    plugin: str
    family: str
    tasks: tuple[str, ...]
    tags: tuple[str, ...]  # its pretrained weights
    source: str


@dataclass(frozen=True)
class Catalog:
    """What one catalog file declares, plus the entries it had to drop (kept as errors).

    `summaries` are always at hand; the full `models` are built on first use, so listing a large
    catalog read from the cache never builds its entries."""

    path: str
    distribution: str | None
    summaries: tuple[ModelSummary, ...] = ()
    tasks: tuple[TaskEntry, ...] = ()
    methods: tuple[MethodEntry, ...] = ()
    errors: tuple[CatalogError, ...] = ()
    read_models: Callable[[], tuple[ModelEntry, ...]] = field(default=tuple, repr=False, compare=False)

    @functools.cached_property
    def models(self) -> tuple[ModelEntry, ...]:
        return self.read_models()

    @functools.cached_property
    def _by_name(self) -> dict[str, ModelEntry]:
        return {m.name: m for m in self.models}

    def model(self, name: str) -> ModelEntry:
        """The full entry of one of `summaries`."""
        return self._by_name[name]


def summarize(entry: ModelEntry) -> ModelSummary:
    return ModelSummary(entry.name, entry.plugin, entry.family, entry.tasks, tuple(entry.weights), entry.source)


# --- YAML that refuses duplicate keys (PyYAML silently keeps the last one) -------------------


def read_yaml(text: bytes | str) -> Any:
    """Parse YAML, refusing duplicate keys; any YAML error becomes a CatalogError."""
    import yaml

    try:
        return yaml.load(text, Loader=_strict_loader())
    except yaml.YAMLError as exc:
        raise CatalogError(f"not valid YAML: {exc}") from None


@functools.cache
def _strict_loader():
    import yaml  # imported on a cache miss only: listing an unchanged catalog never needs it

    class StrictLoader(yaml.CSafeLoader if hasattr(yaml, "CSafeLoader") else yaml.SafeLoader):
        pass

    def construct_mapping(loader, node, deep: bool = False) -> dict:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in seen:
                raise CatalogError(
                    f"duplicate key {key!r} at line {key_node.start_mark.line + 1} "
                    f"(first at line {seen[key]}): every name must appear once"
                )
            seen[key] = key_node.start_mark.line + 1
        return dict(loader.construct_pairs(node, deep=deep))

    StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, construct_mapping)
    return StrictLoader


# --- field checking ----------------------------------------------------------------------------


class _Fields:
    """Reads fields of one mapping, raising errors that say where the mapping is."""

    def __init__(self, data: Any, where: str, allowed: set[str]):
        if not isinstance(data, dict):
            raise CatalogError(f"{where}: expected a mapping, got {type(data).__name__} {data!r}")
        unknown = data.keys() - allowed
        if unknown:
            raise CatalogError(
                f"{where}: unknown field(s) {', '.join(map(repr, sorted(unknown, key=str)))}; "
                f"valid fields: {', '.join(sorted(allowed))}"
            )
        self.data, self.where = data, where

    def get(self, key: str, kind: type | tuple[type, ...], default: Any = ..., pattern: re.Pattern | None = None):
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise CatalogError(f"{self.where}: missing required field {key!r}")
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # YAML has no separate bool/int check: refuse True where an int is expected
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            expected = " or ".join(k.__name__ for k in kinds)
            raise CatalogError(
                f"{self.where}.{key}: expected {expected}, got {type(value).__name__} {value!r}"
            )
        if pattern is not None and not pattern.match(value):
            raise CatalogError(f"{self.where}.{key}: {value!r} does not match {pattern.pattern}")
        return value


def _str_list(fields: _Fields, key: str, pattern: re.Pattern | None = None) -> tuple[str, ...]:
    items = fields.get(key, list, [])
    for i, item in enumerate(items):
        if not isinstance(item, str) or (pattern is not None and not pattern.match(item)):
            raise CatalogError(f"{fields.where}.{key}[{i}]: expected a name, got {item!r}")
    return tuple(items)


def _paper(data: Any, where: str) -> Paper:
    f = _Fields(data, where, PAPER_FIELDS)
    return Paper(
        title=f.get("title", str),
        arxiv=f.get("arxiv", str, None),  # quoted in YAML: 2410.02690 as a float loses its last 0
        year=f.get("year", int, None),
        url=f.get("url", str, None),
    )


def _config_fields(data: Any, where: str) -> tuple[ConfigField, ...]:
    if not isinstance(data, list):
        raise CatalogError(f"{where}: expected a list of fields, got {type(data).__name__}")
    out, seen = [], set()
    for i, item in enumerate(data):
        f = _Fields(item, f"{where}[{i}]", CONFIG_FIELD_FIELDS)
        name = f.get("name", str)
        if name in seen:
            raise CatalogError(f"{where}[{i}]: field {name!r} listed twice")
        seen.add(name)
        if "default" not in f.data:
            raise CatalogError(f"{where}[{i}] ({name}): missing required field 'default'")
        out.append(ConfigField(name, f.get("type", str), f.data["default"], f.get("doc", str, "")))
    return tuple(out)


def _weights(tag: str, data: Any, where: str, variants: dict) -> Weights:
    if not TAG_NAME.match(str(tag)):
        raise CatalogError(f"{where}: weights tag {tag!r} must match {TAG_NAME.pattern}")
    f = _Fields(data, where, WEIGHTS_FIELDS)
    for key in ("filename", "file"):
        value = f.data.get(key)
        if isinstance(value, str) and not value.endswith(".safetensors"):
            raise CatalogError(f"{where}.{key}: {value!r} is not a .safetensors file; weights are safetensors only "
                               f"(pickle checkpoints such as .bin or .pth can run code when read)")
    w = Weights(
        tag=tag,
        sha256=f.get("sha256", str, pattern=SHA256),
        filename=f.get("filename", str, "model.safetensors", pattern=SAFETENSORS_NAME),
        file=f.get("file", str, None, pattern=PACKAGE_FILE),
        repo_id=f.get("repo_id", str, None),
        revision=f.get("revision", str, None, pattern=GIT_SHA),
        variant=f.get("variant", str, None),
        config=f.get("config", dict, {}),
        license=f.get("license", str, None),
        dataset=f.get("dataset", str, None),
        task=f.get("task", str, None),
        metrics=f.get("metrics", dict, {}),
        description=f.get("description", str, ""),
        recipe=f.get("recipe", dict, {}),
    )
    if w.file is None and w.repo_id is None:
        raise CatalogError(f"{where}: needs 'file' (shipped in the package) or 'repo_id' (on the Hub)")
    if w.repo_id is not None and w.revision is None:
        raise CatalogError(f"{where}.revision: Hub weights must pin a 40-hex commit sha")
    if w.variant is not None and w.variant not in variants:
        raise CatalogError(f"{where}.variant: {w.variant!r} is not one of {sorted(variants)}")
    return w


def _model(name: Any, data: Any, where: str, source: str) -> ModelEntry:
    if not isinstance(name, str) or not MODEL_NAME.match(name):
        raise CatalogError(f"{where}: model name {name!r} must match {MODEL_NAME.pattern}")
    f = _Fields(data, where, MODEL_FIELDS)
    variants = f.get("variants", dict, {"default": {}})
    for vname, vconf in variants.items():
        if not isinstance(vname, str) or not TAG_NAME.match(vname):
            raise CatalogError(f"{where}.variants: name {vname!r} must match {TAG_NAME.pattern}")
        if not isinstance(vconf, dict):
            raise CatalogError(f"{where}.variants.{vname}: expected a mapping of config values, got {vconf!r}")
    default_variant = f.get("default_variant", str, "default")
    if default_variant not in variants:
        raise CatalogError(
            f"{where}.default_variant: {default_variant!r} is not one of the variants {sorted(variants)}"
        )
    weights_data = f.get("weights", dict, {})
    return ModelEntry(
        name=name,
        plugin=f.get("plugin", str),
        paper=_paper(f.get("paper", dict), f"{where}.paper"),
        summary=f.get("summary", str, ""),
        family=f.get("family", str, ""),
        priority=f.get("priority", str, None),
        tasks=_str_list(f, "tasks", TASK_NAME),
        default_variant=default_variant,
        variants=variants,
        config=_config_fields(f.get("config", list, []), f"{where}.config"),
        weights={tag: _weights(tag, w, f"{where}.weights.{tag}", variants) for tag, w in weights_data.items()},
        source=source,
    )


def _task(name: Any, data: Any, where: str, source: str) -> TaskEntry:
    if not isinstance(name, str) or not TASK_NAME.match(name):
        raise CatalogError(f"{where}: task name {name!r} must match {TASK_NAME.pattern}")
    f = _Fields(data, where, TASK_FIELDS)
    return TaskEntry(
        name=name,
        plugin=f.get("plugin", str),
        kind=f.get("kind", str),
        summary=f.get("summary", str, ""),
        data=f.get("data", str, ""),
        extra=f.get("extra", str, None),
        source=source,
    )


def _method(name: Any, data: Any, where: str, source: str) -> MethodEntry:
    if not isinstance(name, str) or not MODEL_NAME.match(name):
        raise CatalogError(f"{where}: method name {name!r} must match {MODEL_NAME.pattern}")
    f = _Fields(data, where, METHOD_FIELDS)
    kind = f.get("kind", str, "step")
    if kind not in METHOD_KINDS:
        raise CatalogError(f"{where}.kind: expected one of {', '.join(METHOD_KINDS)}, got {kind!r}")
    return MethodEntry(
        name=name,
        plugin=f.get("plugin", str),
        paper=_paper(f.get("paper", dict), f"{where}.paper"),
        summary=f.get("summary", str, ""),
        family=f.get("family", str, ""),
        priority=f.get("priority", str, None),
        kind=kind,
        needs=f.get("needs", str, ""),
        tasks=tuple(f.get("tasks", list, [])),
        config=_config_fields(f.get("config", list, []), f"{where}.config"),
        source=source,
    )


def parse_catalog(data: Any, path: str, distribution: str | None = None) -> Catalog:
    """Validate parsed YAML. A malformed top level raises; a malformed entry is dropped and kept
    in `Catalog.errors`, so one bad entry never hides the others."""
    top = _Fields(data, path, TOP_FIELDS)
    schema = top.get("schema", int)
    if schema != SCHEMA_VERSION:
        raise CatalogError(f"{path}: schema {schema} is not supported (this zoo reads schema {SCHEMA_VERSION})")
    source = f"{distribution or 'unknown distribution'} ({path})"
    errors: list[CatalogError] = []

    def entries(section: str, parse):
        parsed = []
        for name, body in top.get(section, dict, {}).items():
            try:
                parsed.append(parse(name, body, f"{path}: {section}.{name}", source))
            except CatalogError as exc:
                errors.append(exc)
        return tuple(parsed)

    models = entries("models", _model)
    return Catalog(
        path=path,
        distribution=distribution,
        summaries=tuple(summarize(m) for m in models),
        tasks=entries("tasks", _task),
        methods=entries("methods", _method),
        errors=tuple(errors),
        read_models=lambda: models,
    )


def load_catalog(path: str | Path, distribution: str | None = None) -> Catalog:
    """Read and validate one catalog file. What it produced is cached by content
    (zoo.catalog_cache), so an unchanged catalog is read as JSON, not parsed again."""
    from .catalog_cache import cached

    path = Path(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CATALOG_BYTES + 1)
    except OSError as exc:
        raise CatalogError(f"cannot read catalog {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_CATALOG_BYTES:
        raise CatalogError(f"catalog {path} is over {MAX_CATALOG_BYTES // 2**20} MiB; a catalog lists entries, "
                           f"it does not hold data")

    key = [data, str(path), distribution or "", _code_version()]

    @functools.cache
    def full() -> dict:  # every entry, validated; parsed from YAML only when not cached
        def read() -> dict:
            try:
                parsed = read_yaml(data)
            except CatalogError as exc:
                raise CatalogError(f"{path}: {exc}") from None
            return _to_json(parse_catalog(parsed, str(path), distribution))

        return cached(key, read)

    index = cached([*key, "index"], lambda: _index(full()))
    source = f"{distribution or 'unknown distribution'} ({path})"
    return Catalog(
        path=str(path), distribution=distribution,
        summaries=tuple(_record(ModelSummary, {"name": m[0], "plugin": m[1], "family": m[2], "tasks": tuple(m[3]),
                                               "tags": tuple(m[4]), "source": source}) for m in index["models"]),
        tasks=tuple(_record(TaskEntry, {**t, "source": source}) for t in index["tasks"]),
        methods=tuple(_record(MethodEntry, {**m, "paper": _record(Paper, m["paper"]), "tasks": tuple(m["tasks"]),
                                            "config": tuple(_record(ConfigField, c) for c in m["config"]),
                                            "source": source})
                      for m in index["methods"]),
        errors=tuple(CatalogError(e) for e in index["errors"]),
        read_models=lambda: _models_from_json(full()["models"], source),
    )


@functools.cache
def _code_version() -> bytes:
    """The validating code's own bytes: a cached catalog is reused only by the code that checked it."""
    return Path(__file__).read_bytes()


def _to_json(catalog: Catalog) -> dict:
    def plain(entry) -> dict:
        return {f.name: getattr(entry, f.name) for f in fields(entry) if f.name != "source"}

    def model(entry: ModelEntry) -> dict:
        return {**plain(entry), "paper": plain(entry.paper), "tasks": list(entry.tasks),
                "config": [plain(f) for f in entry.config],
                "weights": {tag: plain(w) for tag, w in entry.weights.items()}}

    return {"models": [model(m) for m in catalog.models],
            "tasks": [plain(t) for t in catalog.tasks],
            "methods": [{**plain(m), "paper": plain(m.paper), "tasks": list(m.tasks),
                         "config": [plain(f) for f in m.config]} for m in catalog.methods],
            "errors": [str(e) for e in catalog.errors]}


def _record(cls, values: dict):
    """A frozen record from values its own fields produced (cached by this very code, see
    `_code_version`): set in one step instead of through the frozen __init__, which costs
    about half of reading a large catalog."""
    record = object.__new__(cls)
    object.__setattr__(record, "__dict__", values)
    return record


def _index(full: dict) -> dict:
    """What a catalog's listing needs: per model [name, plugin, family, tasks, weights tags]."""
    return {"models": [[m["name"], m["plugin"], m["family"], m["tasks"], list(m["weights"])] for m in full["models"]],
            "tasks": full["tasks"], "methods": full["methods"], "errors": full["errors"]}


def _models_from_json(models: list, source: str) -> tuple[ModelEntry, ...]:
    return tuple(
        _record(ModelEntry, {**m, "paper": _record(Paper, m["paper"]), "tasks": tuple(m["tasks"]),
                             "config": tuple(_record(ConfigField, f) for f in m["config"]),
                             "weights": {tag: _record(Weights, w) for tag, w in m["weights"].items()},
                             "source": source})
        for m in models)
