"""Saving and loading zoo models as repos (a directory or a Hub repo), and catalog weights.

A zoo repo holds:

    model.safetensors   the state dict (safetensors only: nothing here ever unpickles)
    config.json         format, architecture, its validated config, the plugin and the distribution
                        that provides it, zoo version, variant, weights tag, sha256 of the weights
    README.md           a generated model card (paper, citation, config, metrics, training curve)
    metrics.json        the training run's metrics, when the model was saved with one
    curves.png          its training curve, likewise

    zoo.save(model, "out/my-kan")
    model = zoo.load("out/my-kan")                    # or "hf-hub:org/name@<sha>"
    model = zoo.create("kan.<tag>", pretrained=True)  # catalog weights, pinned by sha256

Loading builds the architecture from the installed plugin that config.json names (no code ever
comes from a repo), then loads the state dict strictly: missing, unexpected and mismatched keys
are reported by name. Pickle checkpoints (.bin, .pth, .pt, .ckpt, .pkl) are refused unread.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import (
    ConfigError,
    HubError,
    IntegrityError,
    PluginError,
    UnknownNameError,
    UnsafeCheckpointError,
    WeightsError,
)
from .hub import HUB_PREFIX, fetch_file, list_repo_files, parse_hub_uri, sha256_file, snapshot_commit

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "CARD_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "PICKLE_SUFFIXES",
    "RepoConfig",
    "LoadReport",
    "save",
    "load",
    "load_weights",
    "read_repo_config",
    "read_safetensors",
    "check_repo_folder",
    "fetch_hub_repo",
    "package_file",
    "catalog_weights",
    "resolve_catalog_weights",
    "load_catalog_weights",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
METRICS_NAME = "metrics.json"
CURVES_NAME = "curves.png"
FORMAT = "paperzoo"
FORMAT_VERSION = 1
# Files that are (or contain) pickles: reading them can run arbitrary code, so they are never read.
PICKLE_SUFFIXES = (".bin", ".pth", ".pt", ".ckpt", ".pkl", ".pickle", ".joblib")
_PICKLE_WHY = ("pickle files can run arbitrary code when loaded, so PaperZoo never reads them; "
               "convert the checkpoint to safetensors in an environment you trust")


# --- config.json --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RepoConfig:
    """The contents of a zoo repo's config.json."""

    architecture: str
    config: dict
    plugin: str | None
    distribution: str | None
    distribution_version: str | None
    zoo_version: str | None
    variant: str | None = None
    weights: str | None = None
    weights_file: str = WEIGHTS_NAME
    weights_sha256: str | None = None

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, "format_version": FORMAT_VERSION, **dataclasses.asdict(self)},
                          indent=2) + "\n"


def _foreign_config_hint(data: dict) -> str:
    if "model_type" in data or "architectures" in data or "transformers_version" in data:
        return f" It looks like a transformers config (model_type {data.get('model_type')!r})."
    if "_class_name" in data or "_diffusers_version" in data:
        return " It looks like a diffusers config."
    if "pretrained_cfg" in data or "num_classes" in data:
        return f" It looks like a timm config (architecture {data.get('architecture')!r})."
    return ""


def read_repo_config(path: str | Path) -> RepoConfig:
    """Parse and check a zoo config.json; a config from another library is refused with a hint."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise WeightsError(f"cannot read {path}: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise WeightsError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        keys = sorted(data)[:8] if isinstance(data, dict) else type(data).__name__
        raise WeightsError(f"{path} was not written by PaperZoo (no \"format\": \"{FORMAT}\"; it has {keys})."
                           + (_foreign_config_hint(data) if isinstance(data, dict) else "")
                           + " PaperZoo loads only repos it wrote: model.safetensors plus its config.json.")
    version = data.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise WeightsError(f"{path}: format_version {version!r} is not readable by this PaperZoo (reads "
                           f"<= {FORMAT_VERSION}); upgrade paperzoo")
    fields = {f.name: f for f in dataclasses.fields(RepoConfig)}
    values = {k: v for k, v in data.items() if k in fields}
    for required, kind in (("architecture", str), ("config", dict)):
        if not isinstance(values.get(required), kind):
            raise WeightsError(f"{path}: field {required!r} must be a {kind.__name__}, got {values.get(required)!r}")
    for name in fields:
        value = values.get(name)
        if name not in ("architecture", "config") and value is not None and not isinstance(value, str):
            raise WeightsError(f"{path}: field {name!r} must be a string, got {value!r}")
    repo = RepoConfig(**values)
    _check_weights_name(repo.weights_file, path)
    return repo


def _check_weights_name(name: str, where: Any) -> None:
    if name.lower().endswith(PICKLE_SUFFIXES):
        raise UnsafeCheckpointError(f"{where}: weights file {name!r} is a pickle checkpoint; {_PICKLE_WHY}")
    if not name.endswith(".safetensors") or "/" in name or "\\" in name or name.startswith("."):
        raise WeightsError(f"{where}: weights file {name!r} must be a plain '*.safetensors' file name")


# --- safetensors files -----------------------------------------------------------------------------------


def _refuse_pickles(folder: Path, what: str) -> None:
    pickles = sorted(p.name for p in folder.iterdir() if p.name.lower().endswith(PICKLE_SUFFIXES))
    if pickles:
        raise UnsafeCheckpointError(f"{what}: only pickle checkpoint(s) {pickles} found, no {WEIGHTS_NAME}; "
                                    f"{_PICKLE_WHY}")


def _looks_like_pickle(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4)
    return head.startswith(b"PK\x03\x04") or (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5)


def read_safetensors(path: str | Path) -> dict:
    """Every tensor of a safetensors file, on CPU; a corrupt or truncated file is a WeightsError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if path.name.lower().endswith(PICKLE_SUFFIXES):
        raise UnsafeCheckpointError(f"{path} is a pickle checkpoint; {_PICKLE_WHY}")
    try:
        return load_file(path)
    except FileNotFoundError:
        raise WeightsError(f"weights file {path} does not exist") from None
    except SafetensorError as exc:
        if _looks_like_pickle(path):
            raise UnsafeCheckpointError(f"{path} is a pickle (torch.save) file, not safetensors; it was not "
                                        f"read: {_PICKLE_WHY}") from None
        raise WeightsError(f"{path} is not a valid safetensors file (truncated or corrupt: {exc})") from None


def _check_safetensors_header(path: Path) -> None:
    """Validate a safetensors file by its header alone (cheap: no tensor data is read)."""
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), "pt") as f:
            f.keys()
    except SafetensorError as exc:
        if _looks_like_pickle(path):
            raise UnsafeCheckpointError(f"{path} is a pickle (torch.save) file, not safetensors; {_PICKLE_WHY}") \
                from None
        raise WeightsError(f"{path} is not a valid safetensors file (truncated or corrupt: {exc})") from None


# --- strict state-dict loading -----------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadReport:
    """What a state-dict load found: every key is named."""

    missing: tuple[str, ...] = ()     # in the model, not in the checkpoint
    unexpected: tuple[str, ...] = ()  # in the checkpoint, not in the model
    mismatched: tuple[str, ...] = ()  # in both, with another shape or dtype ("name: checkpoint ... vs model ...")

    @property
    def ok(self) -> bool:
        return not (self.missing or self.unexpected or self.mismatched)

    def describe(self, limit: int = 20) -> str:
        parts = []
        for label, keys in (("missing", self.missing), ("unexpected", self.unexpected),
                            ("mismatched", self.mismatched)):
            if keys:
                shown = ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")
                parts.append(f"{len(keys)} {label}: {shown}")
        return "; ".join(parts)


def _aliases(state: dict) -> dict[str, set[str]]:
    """Keys that share storage (tied weights): saving keeps only one of each group."""
    groups: dict[tuple, set[str]] = {}
    for key, tensor in state.items():
        if tensor.numel():
            groups.setdefault((tensor.device, tensor.untyped_storage().data_ptr()), set()).add(key)
    return {key: group - {key} for group in groups.values() for key in group}


def _single_float_dtype(tensors) -> Any:
    dtypes = {t.dtype for t in tensors if t.is_floating_point()}
    return dtypes.pop() if len(dtypes) == 1 else None


def _load_state(model, tensors: dict, where: str, *, strict: bool, fresh: bool) -> LoadReport:
    """Check every key, then load. `fresh`: the model was just built for this load, so it takes the
    checkpoint's float dtype, and its tensors are replaced by the file's (memory-mapped, copy on
    write: no copy is made). An existing model (load_weights) keeps its tensors and gets a copy,
    as do models with tied weights, whose ties must survive the load."""
    own = model.state_dict()
    if fresh:
        # a checkpoint saved in half precision loads into a half-precision model
        theirs, ours = _single_float_dtype(tensors.values()), _single_float_dtype(own.values())
        if theirs is not None and ours is not None and theirs != ours:
            model.to(theirs)
            own = model.state_dict()
    aliases = _aliases(own)
    missing = tuple(k for k in own if k not in tensors and not (aliases.get(k, set()) & tensors.keys()))
    unexpected = tuple(k for k in tensors if k not in own)
    mismatched = tuple(
        f"{k}: checkpoint {tensors[k].dtype} {tuple(tensors[k].shape)} vs model {own[k].dtype} {tuple(own[k].shape)}"
        for k in tensors if k in own and (tensors[k].shape != own[k].shape or tensors[k].dtype != own[k].dtype)
    )
    report = LoadReport(missing, unexpected, mismatched)
    if strict and not report.ok:
        raise WeightsError(f"{where} does not fit the model ({type(model).__name__}): {report.describe()}. "
                           f"Pass strict=False to load the keys that fit.")
    bad = {m.split(":", 1)[0] for m in mismatched}
    usable = {k: v for k, v in tensors.items() if k in own and k not in bad}
    tied = any(aliases.values())
    model.load_state_dict(usable, strict=False, assign=fresh and not tied)
    return report


def load_weights(model, path: str | Path, *, strict: bool = True) -> LoadReport:
    """Load a safetensors file into an existing model; strict by default (every key must fit)."""
    return _load_state(model, read_safetensors(path), str(path), strict=strict, fresh=False)


# --- save ----------------------------------------------------------------------------------------------------


def _identity(model):
    identity = getattr(model, "zoo_identity", None)
    if identity is None:
        raise WeightsError(f"{type(model).__name__} has no zoo_identity: only models built by zoo.create or "
                           f"zoo.load can be saved as zoo repos (they know their architecture and config)")
    return identity


def save(model, directory: str | Path, *, run=None, metrics: dict | None = None, license: str | None = None,
         repo_id: str | None = None, registry=None) -> Path:
    """Write `model` as a zoo repo in `directory` (created if needed) and return its path.

    run: a training run directory (with metrics.json and curves.png) or its metrics dict; its
        metrics and curve go into the card, and are copied into the repo.
    metrics: final metric values to show in the card (override the run's).
    license: the weights' license for the card (default: the catalog weights' license, if any).
    repo_id: the Hub repo the folder is meant for, used in the card's usage example.

    Files are written into a staging folder and renamed into place, config.json last, so an
    interrupted save leaves no half-written file in `directory`.
    """
    from safetensors.torch import save_model

    from . import __version__
    from .cards import render_card, training_summary
    from .registry import default_registry

    identity = _identity(model)
    registry = registry or default_registry()
    entry = registry.info(identity.architecture)
    directory = Path(directory).resolve()
    directory.parent.mkdir(parents=True, exist_ok=True)
    summary = training_summary(run, metrics)
    catalog_weights = entry.weights.get(identity.weights) if identity.weights else None
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.partial-", dir=directory.parent))
    try:
        save_model(model, str(staging / WEIGHTS_NAME), metadata={"format": "pt"})
        repo = RepoConfig(
            architecture=identity.architecture,
            config=identity.config.to_dict(),
            plugin=identity.plugin,
            distribution=identity.distribution,
            distribution_version=identity.distribution_version,
            zoo_version=__version__,
            variant=identity.variant,
            weights=identity.weights,
            weights_sha256=sha256_file(staging / WEIGHTS_NAME),
        )
        written = [WEIGHTS_NAME]
        if summary is not None:
            (staging / METRICS_NAME).write_text(json.dumps(summary.metrics_json, indent=2, default=float) + "\n")
            written.append(METRICS_NAME)
            if summary.curves is not None:
                shutil.copyfile(summary.curves, staging / CURVES_NAME)
                written.append(CURVES_NAME)
        card = render_card(
            repo, entry, parameters=sum(p.numel() for p in model.parameters()), summary=summary,
            license=license or (catalog_weights.license if catalog_weights else None),
            curves=CURVES_NAME if CURVES_NAME in written else None, repo_id=repo_id,
        )
        (staging / CARD_NAME).write_text(card, encoding="utf-8")
        (staging / CONFIG_NAME).write_text(repo.to_json(), encoding="utf-8")
        shutil.copymode(staging / CONFIG_NAME, staging / WEIGHTS_NAME)  # safetensors writes 0600; follow umask
        directory.mkdir(exist_ok=True)
        for name in [*written, CARD_NAME, CONFIG_NAME]:  # config.json last: it marks a complete repo
            os.replace(staging / name, directory / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return directory


# --- load ------------------------------------------------------------------------------------------------------


def check_repo_folder(folder: str | Path) -> RepoConfig:
    """Check that a folder is a complete zoo repo (used before pushing): config, valid weights, no pickles."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"{folder} is not a directory")
    pickles = sorted(p.name for p in folder.iterdir() if p.name.lower().endswith(PICKLE_SUFFIXES))
    if pickles:
        raise UnsafeCheckpointError(f"{folder} holds pickle file(s) {pickles}; {_PICKLE_WHY}. Remove them first")
    if not (folder / CONFIG_NAME).is_file():
        raise WeightsError(f"{folder} is not a zoo repo: it has no {CONFIG_NAME} (write one with zoo.save)")
    repo = read_repo_config(folder / CONFIG_NAME)
    weights = folder / repo.weights_file
    if not weights.is_file():
        raise WeightsError(f"{folder} is not a complete zoo repo: {repo.weights_file} is missing")
    _check_safetensors_header(weights)
    if repo.weights_sha256 is not None and sha256_file(weights) != repo.weights_sha256:
        raise IntegrityError(f"{weights}: sha256 differs from the weights_sha256 in {CONFIG_NAME}; the folder "
                             f"was changed after zoo.save wrote it")
    return repo


def _local_repo(source: Path) -> tuple[RepoConfig, Path, str]:
    if source.is_file():
        if source.name.lower().endswith(PICKLE_SUFFIXES):
            raise UnsafeCheckpointError(f"{source} is a pickle checkpoint; {_PICKLE_WHY}")
        raise WeightsError(f"{source} is a file; zoo.load takes the repo directory that holds {CONFIG_NAME} and "
                           f"{WEIGHTS_NAME}. To load bare weights into a model, use zoo.load_weights(model, path)")
    if not source.is_dir():
        raise WeightsError(f"no directory {source}; zoo.load takes a directory written by zoo.save or "
                           f"'{HUB_PREFIX}org/name[@revision]'")
    if not (source / CONFIG_NAME).is_file():
        _refuse_pickles(source, str(source))
        raise WeightsError(f"{source} is not a zoo repo: it has no {CONFIG_NAME} (zoo.save writes one)")
    repo = read_repo_config(source / CONFIG_NAME)
    weights = source / repo.weights_file
    if not weights.is_file():
        _refuse_pickles(source, str(source))
        raise WeightsError(f"{source}: {repo.weights_file} is missing")
    return repo, weights, str(source)


def fetch_hub_repo(uri: str, token: str | bool | None = None) -> tuple[RepoConfig, Path, str]:
    """Fetch a zoo repo's config.json and weights ('hf-hub:org/name[@revision]') into the cache, both
    at the same commit, the weights checked against config.json's sha256. Returns (config, weights
    path, 'hf-hub:org/name@<commit>')."""
    repo_id, revision = parse_hub_uri(uri)
    config_path = fetch_file(repo_id, CONFIG_NAME, revision, token=token)
    commit = snapshot_commit(config_path, CONFIG_NAME) or revision
    repo = read_repo_config(config_path)
    where = f"{HUB_PREFIX}{repo_id}@{commit}"
    try:
        weights = fetch_file(repo_id, repo.weights_file, commit, sha256=repo.weights_sha256, token=token)
    except HubError as exc:
        # a repo holding only pickles: say why it is refused rather than "file not found"
        try:
            pickles = [f for f in list_repo_files(repo_id, commit, token=token)
                       if f.lower().endswith(PICKLE_SUFFIXES)]
        except HubError:
            pickles = []
        if pickles:
            raise UnsafeCheckpointError(f"{where}: has no {repo.weights_file}, only pickle checkpoint(s) {pickles}; "
                                        f"{_PICKLE_WHY}") from exc
        raise
    return repo, weights, where


def _build(repo: RepoConfig, where: str, registry):
    """Build the architecture named by config.json from the installed plugin that provides it."""
    from .registry import default_registry

    registry = registry or default_registry()
    install = (f"pip install {repo.distribution}" + (f">={repo.distribution_version}" if repo.distribution_version
                                                     else "")) if repo.distribution else "the plugin's distribution"
    try:
        entry = registry.info(repo.architecture)
        spec = registry.model_spec(repo.architecture)
    except UnknownNameError:
        raise PluginError(f"{where} needs architecture {repo.architecture!r} (plugin {repo.plugin!r} from "
                          f"distribution {repo.distribution!r}), which no installed plugin provides. "
                          f"Install it: {install}") from None
    except PluginError as exc:
        raise PluginError(f"{where} needs architecture {repo.architecture!r} from distribution "
                          f"{repo.distribution!r}, but it cannot be built here: {exc} Install it: {install}") from None
    try:
        config = spec.config.from_json(json.dumps(repo.config))
    except ConfigError as exc:
        raise ConfigError(f"{where}: config.json holds a config the installed {repo.architecture!r} plugin refuses "
                          f"(saved with {repo.distribution} {repo.distribution_version}): {exc}") from None
    variant = repo.variant if repo.variant in entry.variants else None
    values = {name: getattr(config, name) for name in type(config).model_fields}
    model = registry.create(repo.architecture, variant=variant, **values)
    model.zoo_identity = dataclasses.replace(model.zoo_identity, weights=repo.weights)
    return model


def load(source: str | os.PathLike, *, strict: bool = True, device=None, verify: bool = False,
         token: str | bool | None = None, registry=None):
    """Load a zoo repo: a local directory or 'hf-hub:org/name[@revision]'.

    The architecture is built by the installed plugin config.json names (never by code from the
    repo), then the weights load strictly: a missing, unexpected or mismatched key is an error that
    names it (strict=False loads what fits). Weights fetched from the Hub are always checked against
    the sha256 in config.json; verify=True checks a local directory's too. device: move the model there.
    """
    if isinstance(source, str) and source.startswith(HUB_PREFIX):
        repo, weights, where = fetch_hub_repo(source, token)
    else:
        repo, weights, where = _local_repo(Path(source))
        if verify and repo.weights_sha256 is not None and sha256_file(weights) != repo.weights_sha256:
            raise IntegrityError(f"{weights}: sha256 differs from weights_sha256 in {where}/{CONFIG_NAME}; refused")
    model = _build(repo, where, registry)
    _load_state(model, read_safetensors(weights), f"{where}/{repo.weights_file}", strict=strict, fresh=True)
    return model.to(device) if device is not None else model


# --- catalog weights ----------------------------------------------------------------------------------------------


def package_file(resource: str) -> Path | None:
    """'package:path/in/package' -> the installed file, or None when the package lacks it."""
    import importlib.resources

    package, _, relative = resource.partition(":")
    try:
        path = importlib.resources.files(package).joinpath(relative)
    except ModuleNotFoundError:
        return None
    return Path(str(path)) if path.is_file() else None


def catalog_weights(name: str, registry=None):
    """(entry, weights) of a catalog checkpoint: 'arch.tag', or 'arch' for its first listed weights."""
    from .registry import default_registry, split_name

    registry = registry or default_registry()
    entry = registry.info(name)
    tag = split_name(name)[1]
    if not entry.weights:
        raise UnknownNameError(f"model {entry.name!r} has no pretrained weights in the catalog")
    return entry, entry.weights[tag] if tag else next(iter(entry.weights.values()))


def _verify_shipped(path: Path, sha256: str, where: str) -> Path:
    actual = sha256_file(path)
    if actual != sha256:
        raise IntegrityError(f"{where}: shipped file {path} has sha256 {actual}, but the catalog pins {sha256}; "
                             f"refused (reinstall the package that ships it)")
    return path


def resolve_catalog_weights(entry, weights) -> Path:
    """The verified local path of catalog weights, offline first: the file shipped in the package,
    then the HF cache at the pinned commit, then the network (unless HF_HUB_OFFLINE)."""
    where = f"weights {entry.name}.{weights.tag}"
    _check_weights_name(Path(weights.file or weights.filename).name, where)
    if weights.file:
        shipped = package_file(weights.file)
        if shipped is not None:
            return _verify_shipped(shipped, weights.sha256, where)
        if not weights.repo_id:
            raise WeightsError(f"{where}: the shipped file {weights.file!r} is not installed and the catalog names "
                               f"no Hub repo; reinstall the distribution that provides {entry.name!r} ({entry.source})")
    if not weights.repo_id:
        raise WeightsError(f"{where}: the catalog gives neither a shipped file nor a Hub repo")
    return fetch_file(weights.repo_id, weights.filename, weights.revision, sha256=weights.sha256)


def load_catalog_weights(model, entry, weights) -> LoadReport:
    """Load catalog weights into a model built from the same entry (called by zoo.create(pretrained=True))."""
    path = resolve_catalog_weights(entry, weights)
    return _load_state(model, read_safetensors(path), f"weights {entry.name}.{weights.tag} ({path})",
                       strict=True, fresh=True)
