"""Save and load zoo models as repos (a local folder or a Hub repo): atomic saves, and loads that
build the architecture from an installed plugin, never from code in the repo.

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
    model = zoo.create("hf-hub:org/name", num_classes=3)  # a Hub repo's body, a fresh 3-class head

Before writing, a save checks that config.json describes the weights: a model built from it (on
the meta device) must have exactly the state dict's names and shapes. Classifier surgery that one
config value records (timm's reset_classifier) is written into the config; anything else is
refused, naming the tensors.

Saving builds the whole repo in a staging folder beside the target and swaps it in with one
rename, under the target's write lock, so a reader sees the previous repo or the new one, never a
mix. Loading builds the architecture from the installed plugin that config.json names (no code
ever comes from a repo), reads the weights into memory the model owns (later changes to the file
never reach it), then loads the state dict strictly: missing, unexpected and mismatched keys are
reported by name. Pickle checkpoints (.bin, .pth, .pt, .ckpt, .pkl) are refused unread, and
config.json and the safetensors header are size- and depth-limited before they are parsed.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import errno
import functools
import json
import os
import re
import secrets
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from .cards import MAX_RUN_METRICS_BYTES, pip_install_command, valid_version
from .errors import (
    ConfigError,
    HubError,
    PluginError,
    UnknownNameError,
    UnsafeCheckpointError,
    WeightsError,
    ZooError,
)
from .hub import (
    HUB_PREFIX,
    PushResult,
    check_repo_id,
    check_revision,
    fetch_file,
    list_repo_files,
    parse_hub_uri,
    push_folder,
    sha256_file,
    snapshot_commit,
)
from .locks import exclusive
from .training.run_file import HEADER as RUN_FILE_HEADER, RUN_FILE
from .repo_files import (
    _PICKLE_WHY,
    CARD_NAME,
    CHECKPOINTS_NAME,
    CONFIG_NAME,
    CURVES_NAME,
    FORMAT,
    METRICS_NAME,
    PICKLE_SUFFIXES,
    WEIGHTS_NAME,
    RepoConfig,
    _as_path,
    _describe_counts,
    _load_file,
    _loads,
    _local_repo,
    _nonfinite,
    _open_regular,
    _open_weights,
    _read_limited,
    _shown,
    read_repo_config,
)

__all__ = ["save", "load", "push_to_hub", "is_zoo_folder", "fetch_hub_repo", "catalog_weights"]


# --- save ----------------------------------------------------------------------------------------------------


def _identity(model):
    identity = getattr(model, "zoo_identity", None)
    if identity is None:
        raise WeightsError(f"{type(model).__name__} has no zoo_identity: only models built by zoo.create or "
                           f"zoo.load can be saved as zoo repos (they know their architecture and config)")
    return identity


def _refuse_special_target(target: Path) -> None:
    """The filesystem root, a mount point and the home directory are never replaced (not even with
    overwrite=True): a mount point cannot be renamed, and nobody means to swap out their home."""
    if target.parent == target:
        what = "the filesystem root"
    elif os.path.ismount(target):
        what = "a filesystem mount point"
    else:
        try:
            home = Path(os.path.realpath(Path.home()))
        except (RuntimeError, KeyError, OSError):  # no HOME and no password entry
            home = None
        if target != home:
            return
        what = "your home directory"
    raise WeightsError(f"refusing to save into {target}: it is {what}, and zoo.save replaces its target folder as "
                       f"a whole; save into a new folder inside it instead, e.g. {target / 'my-model'}")


def _is_zoo_json(path: Path, *keys: str) -> bool:
    """Whether `path` is a JSON object that PaperZoo wrote: a config.json with "format": "paperzoo"
    (no keys given), or a run's metrics.json holding all of `keys`."""
    try:
        with _open_regular(path, path) as file:
            data = _loads(_read_limited(file, MAX_RUN_METRICS_BYTES, path, path.name), path)
    except (ZooError, OSError):
        return False
    if not isinstance(data, dict):
        return False
    return all(k in data for k in keys) if keys else data.get("format") == FORMAT


def is_zoo_folder(folder: Path, ignore: Callable[[str], bool] = lambda name: False) -> bool:
    """Whether the zoo may write into `folder` without overwrite=True: it is empty (entries that
    `ignore` names aside), a zoo repo (config.json of format "paperzoo") or a zoo.train run
    directory (a checkpoints/ folder, or a run's metrics.json). Used by zoo.save and zoo.train."""
    return (not any(not ignore(name) for name in os.listdir(folder)) or (folder / CHECKPOINTS_NAME).is_dir()
            or _is_zoo_json(folder / CONFIG_NAME) or _is_zoo_json(folder / METRICS_NAME, "history", "final")
            or _is_run_file(folder / RUN_FILE))


def _is_run_file(path: Path) -> bool:
    """A run file zoo.train wrote (its header line), left alone by a run stopped before its first checkpoint."""
    try:
        with open(path, "rb") as file:
            return file.read(len(RUN_FILE_HEADER.encode())) == RUN_FILE_HEADER.encode()
    except OSError:
        return False


def _check_owned(target: Path, overwrite: bool) -> None:
    """Refuse to replace what the zoo did not write: an existing file, or a non-empty folder that is
    neither a zoo repo nor a zoo.train run directory (unless overwrite=True)."""
    try:
        mode = os.lstat(target).st_mode
    except FileNotFoundError:
        return
    if overwrite:
        return
    if not stat.S_ISDIR(mode):
        raise WeightsError(f"refusing to save to {target}: it is an existing file, not a folder, and zoo.save writes "
                           f"a repo folder; choose another path, or pass overwrite=True to replace the file")
    if is_zoo_folder(target):
        return
    names = sorted(os.listdir(target))
    shown = ", ".join(_shown(n, 40) for n in names[:5]) + (f", ... ({len(names)} entries)" if len(names) > 5 else "")
    raise WeightsError(f"refusing to save to {target}: it is a folder the zoo did not write (not a zoo repo or run "
                       f"directory; it holds {shown}), and zoo.save replaces its target folder as a whole. Save into "
                       f"a new or empty folder, or pass overwrite=True to replace it (its other entries are kept)")


def _leftovers(target: Path) -> list[tuple[str, Path]]:
    """("partial", path) for the staging folders of killed saves of `target` (`.name.partial-*`),
    ("replaced", path) for previous repos the fallback swap moved aside (`.name.replaced-*`)."""
    pattern = re.compile(re.escape(f".{target.name}.") + r"(partial|replaced)-[a-z0-9_]+")
    try:
        names = os.listdir(target.parent)
    except OSError:
        return []
    return [(m.group(1), target.parent / name) for name in names if (m := pattern.fullmatch(name))]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)


def _clean_leftovers(target: Path) -> None:
    for kind, path in sorted(_leftovers(target), key=lambda found: found[0] != "replaced"):
        if kind == "replaced" and not os.path.lexists(target):
            os.rename(path, target)  # a fallback swap was killed between its renames: put the repo back
        else:
            _remove(path)


def _make_staging(target: Path) -> Path:
    while True:
        staging = target.parent / f".{target.name}.partial-{secrets.token_hex(8)}"
        try:
            os.mkdir(staging)  # mode 0o777 less the umask, as the folder it replaces was made
            return staging
        except FileExistsError:
            continue


def _link_tree(source: Path, dest: Path, skip: set[str]) -> None:
    """Carry `source`'s entries (except `skip`) into `dest` as hard links (copies where the
    filesystem refuses a link), folders recreated: the original stays intact until the swap."""
    folders, stack = [], [(source, dest, skip)]
    while stack:
        src, dst, leave_out = stack.pop()
        with os.scandir(src) as entries:
            for entry in entries:
                if entry.name in leave_out:
                    continue
                into = dst / entry.name
                if entry.is_dir(follow_symlinks=False):
                    os.mkdir(into)
                    folders.append((entry.path, into))
                    stack.append((Path(entry.path), into, set()))
                    continue
                try:
                    os.link(entry.path, into, follow_symlinks=False)
                except (OSError, NotImplementedError):  # no hard links here (or not of a symlink)
                    if entry.is_symlink():
                        os.symlink(os.readlink(entry.path), into)
                    else:
                        shutil.copy2(entry.path, into, follow_symlinks=False)
    for src, dst in reversed(folders):  # modes last: a read-only folder must first be filled
        shutil.copystat(src, dst, follow_symlinks=False)


def _fsync(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # folders cannot be opened on Windows
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot sync a folder; the rename is still atomic
    finally:
        os.close(fd)


_AT_FDCWD = -100
_RENAME_EXCHANGE = 2


@functools.lru_cache(maxsize=1)
def _renameat2():
    if not sys.platform.startswith("linux"):
        return None
    try:
        function = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError):  # a libc older than glibc 2.28
        return None
    function.argtypes = (ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint)
    function.restype = ctypes.c_int
    return function


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two existing paths (Linux renameat2 RENAME_EXCHANGE); False where the
    platform, libc or filesystem cannot."""
    function = _renameat2()
    if function is None:
        return False
    if function(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


def _swap_in(staging: Path, target: Path) -> None:
    """Put the complete `staging` folder at `target` in one step. What was at `target` ends up at
    `staging` (for the caller to delete). Without RENAME_EXCHANGE the previous repo is first
    renamed aside: a reader may then briefly find no folder, but never a mix."""
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    if _exchange(staging, target):
        return
    aside = target.parent / f".{target.name}.replaced-{secrets.token_hex(8)}"
    os.rename(target, aside)
    os.rename(staging, target)
    os.rename(aside, staging)


def _cwd_inside(target: Path) -> Path | None:
    """Where the working directory is relative to `target`, when it is inside it (None if not)."""
    try:
        return Path(os.getcwd()).relative_to(target)
    except (OSError, ValueError):
        return None


def _refuse_nonfinite(model) -> None:
    state = model.state_dict()
    counts = _nonfinite(state)
    if counts:
        raise WeightsError(f"{type(model).__name__} has NaN/inf weights: {_describe_counts(counts, state)}; "
                           f"refused, since a repo with them gives NaN/inf outputs. Pass allow_nonfinite=True "
                           f"to save them anyway")


def _task_kind(registry, task) -> str | None:
    """The catalog kind of the task a run trained on; None for plain data or an unknown name."""
    if not isinstance(task, str):
        return None
    try:
        return registry.task_info(task).kind
    except ZooError:
        return None


def _state_shapes(model) -> dict[str, tuple[int, ...]]:
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def _built_shapes(repo: RepoConfig, registry, max_params: int, overrides: dict | None = None, *,
                  meta: bool = True) -> dict:
    """Names and shapes of the state dict of the model zoo.load builds from `repo` (with `overrides`):
    built on the meta device, so nothing is allocated, or on the CPU for a plugin whose build reads
    values (Tensor.item cannot run on meta). The global RNG is left as it was."""
    import torch

    with torch.random.fork_rng(devices=[]):
        if meta:
            try:
                with torch.device("meta"):
                    return _state_shapes(_build(repo, repo.architecture, registry, max_params, overrides))
            except Exception:  # noqa: BLE001 - retried for real below, where a genuine error is raised
                pass
        return _state_shapes(_build(repo, repo.architecture, registry, max_params, overrides))


def _shape_report(saved: dict, built: dict, limit: int = 8) -> str:
    """What differs between the tensors being saved and those a model built from the config has."""
    parts = []
    for label, names in (
            ("the config builds tensors the weights lack", [k for k in built if k not in saved]),
            ("the weights hold tensors the config does not build", [k for k in saved if k not in built]),
            ("shapes differ", [f"{k}: weights {saved[k]} vs config {built[k]}" for k in saved
                               if k in built and saved[k] != built[k]])):
        if names:
            more = f", ... ({len(names) - limit} more)" if len(names) > limit else ""
            parts.append(f"{label}: {', '.join(names[:limit])}{more}")
    return "; ".join(parts)


def _config_fixes(model, config: dict, saved: dict, built: dict) -> list[dict]:
    """Single-field config changes that may explain how `saved` differs from `built`: a field the
    model reports itself with another value (timm's reset_classifier sets model.num_classes), then
    an integer field whose value is a size the config gives a tensor that the weights have another
    size of (a replaced classifier). Each is only a guess: the caller rebuilds to confirm it."""
    fixes: list[dict] = []
    numbers = {k: v for k, v in config.items() if type(v) is int}
    for field, value in numbers.items():
        own = model.__dict__.get(field)  # plain attributes only, not submodules or parameters
        if type(own) is int and own != value:
            fixes.append({field: own})
    for name in saved.keys() & built.keys():
        if len(saved[name]) != len(built[name]):
            continue
        for have, want in zip(saved[name], built[name]):
            if have != want:
                fixes += [{field: have} for field, value in numbers.items() if value == want]
    unique: list[dict] = []
    for fix in fixes:
        if fix not in unique:
            unique.append(fix)
    return unique[:_MAX_CONFIG_FIXES]


_MAX_CONFIG_FIXES = 8  # rebuilds tried on a mismatch; each is a meta-device build (milliseconds)


def _config_matching_weights(model, identity, registry) -> dict:
    """The config to write to config.json: the model's own, or, after surgery the config does not
    record (timm's reset_classifier, a replaced classifier), that config with the one field
    changed that makes a model built from it have exactly the saved tensors' names and shapes.
    Anything else is refused, naming the tensors: the repo would not load."""
    from .limits import count_module, max_params_limit

    config = identity.config.to_dict()
    repo = RepoConfig(identity.architecture, config, identity.plugin, identity.distribution,
                      identity.distribution_version, None, variant=identity.variant,
                      methods=list(getattr(model, "zoo_methods", [])))
    # the model exists at this size already: the default limit of zoo.create must not refuse it here
    limit = max(2 * count_module(model).elements, max_params_limit(None))
    saved = _state_shapes(model)
    try:
        built = _built_shapes(repo, registry, limit)
        if built != saved and repo.methods:  # a method may act otherwise on meta tensors: ask a real build
            built = _built_shapes(repo, registry, limit, meta=False)
    except PluginError:  # a recorded method no plugin here provides: zoo.load names it; nothing to build against
        return config
    except ZooError as exc:
        raise WeightsError(f"refusing to save {type(model).__name__}: its config cannot be built again, so the "
                           f"repo would not load: {exc}") from None
    if built == saved:
        return config
    for fix in _config_fixes(model, config, saved, built):
        candidate = dataclasses.replace(repo, config={**config, **fix})
        try:
            if _built_shapes(candidate, registry, limit) == saved:
                return candidate.config
        except ZooError:  # e.g. a value out of the field's range: not this fix
            continue
    raise WeightsError(
        f"refusing to save {type(model).__name__}: its weights do not fit its config (architecture "
        f"{identity.architecture!r}, {_shown(config, 200)}), which zoo.load builds the model from: "
        f"{_shape_report(saved, built)}. The model was changed after zoo.create built it in a way no config "
        f"value records. Build the changed architecture through its config instead (zoo.create("
        f"{identity.architecture!r}, <field>=<value>)), copy the weights into it, and save that model")


def save(model, directory: str | Path, *, run=None, metrics: dict | None = None, license: str | None = None,
         repo_id: str | None = None, registry=None, overwrite: bool = False, allow_nonfinite: bool = False) -> Path:
    """Write `model` as a zoo repo in `directory` (created if needed) and return its path.

    run: a training run directory (with metrics.json and curves.png) or its metrics dict; its
        metrics and curve go into the card, and are copied into the repo.
    metrics: final metric values to show in the card (override the run's).
    license: the weights' license for the card (default: the catalog weights' license, if any).
    repo_id: the Hub repo the folder is meant for, used in the card's usage example.
    overwrite: replace `directory` even when the zoo did not write it (an existing file, or a
        non-empty folder that is not a zoo repo or run directory; its other entries are kept).
        The filesystem root, a mount point and the home directory are refused regardless.
    allow_nonfinite: save NaN/inf weights (refused by default, naming the tensors).

    The folder is replaced as a whole: the repo is written into a staging folder beside it, the
    entries of the old folder that the save does not write (a run's checkpoints/, anything else)
    are hard-linked in, and the staging folder is swapped with the target in one atomic rename
    (Linux renameat2 RENAME_EXCHANGE; elsewhere, or on filesystems without it, the old folder is
    renamed aside and the new one renamed in, so a reader may briefly find no folder, but never
    a mix of two saves). A save killed midway leaves the previous folder intact; its staging
    folder is removed by the next save of the same target. One writer at a time: the save holds
    `zoo.locks.exclusive(directory, "repo")`, so a concurrent save gets BusyError (zoo.train,
    which holds its run directory's lock, re-enters it).
    """
    from safetensors.torch import save_model

    from .version import installed_version
    from .cards import render_card, training_summary
    from .registry import default_registry

    identity = _identity(model)
    for name, value in (("license", license), ("repo_id", repo_id)):
        if value is not None and not isinstance(value, str):
            raise WeightsError(f"{name} must be a string, got {type(value).__name__} {_shown(value)}")
    registry = registry or default_registry()
    entry = registry.info(identity.architecture)
    requested = _as_path(directory, "save directory").expanduser()
    target = Path(os.path.realpath(requested))
    _refuse_special_target(target)
    if not allow_nonfinite:
        _refuse_nonfinite(model)
    config = _config_matching_weights(model, identity, registry)
    summary = training_summary(run, metrics)
    catalog_weights = entry.weights.get(identity.weights) if identity.weights else None
    with contextlib.ExitStack() as locks:
        locks.enter_context(exclusive(requested, "repo"))
        if os.path.abspath(requested) != str(target):  # through a symlink: lock the real folder too
            locks.enter_context(exclusive(target, "repo"))
        try:
            _clean_leftovers(target)
            _check_owned(target, overwrite)
            staging = _make_staging(target)
        except OSError as exc:
            raise WeightsError(f"cannot save to {target}: {exc.strerror or exc} ({exc.filename})") from None
        try:
            save_model(model, str(staging / WEIGHTS_NAME), metadata={"format": "pt"})
            repo = RepoConfig(
                architecture=identity.architecture,
                config=config,
                plugin=identity.plugin,
                distribution=identity.distribution,
                distribution_version=identity.distribution_version,
                zoo_version=installed_version(),
                variant=identity.variant,
                weights=identity.weights,
                weights_sha256=sha256_file(staging / WEIGHTS_NAME),
                methods=list(getattr(model, "zoo_methods", [])),
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
                task_kind=_task_kind(registry, summary.task if summary is not None else None),
            )
            (staging / CARD_NAME).write_text(card, encoding="utf-8")
            (staging / CONFIG_NAME).write_text(repo.to_json(), encoding="utf-8")
            written += [CARD_NAME, CONFIG_NAME]
            shutil.copymode(staging / CONFIG_NAME, staging / WEIGHTS_NAME)  # safetensors writes 0600; follow umask
            if target.is_dir():
                _link_tree(target, staging, set(written))
                shutil.copymode(target, staging)  # keep a mode the user gave the folder
            for name in written:  # on disk before the rename makes them the repo
                _fsync(staging / name)
            _fsync(staging)
            inside = _cwd_inside(target)
            _swap_in(staging, target)
            if inside is not None:  # this process worked in the old folder: follow it into the new one
                with contextlib.suppress(OSError):
                    os.chdir(target / inside)
            _fsync(target.parent)
        except OSError as exc:
            raise WeightsError(f"cannot save to {target}: {exc.strerror or exc} ({exc.filename})") from None
        finally:
            _remove(staging)  # after the swap, it holds the previous folder
    if config != identity.config.to_dict():  # the model now is what config.json says (after reset_classifier)
        written = type(identity.config).from_json(json.dumps(config))
        model.zoo_identity = dataclasses.replace(identity, config=written)
    return target


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


def _install_hint(repo: RepoConfig) -> str:
    """What to install, as a command only when config.json's distribution and version are valid
    (a PEP 508 name, a PEP 440 version): anything else is never printed as something to run."""
    if repo.distribution is None:
        return "the plugin's distribution"
    command = pip_install_command(repo.distribution, repo.distribution_version)
    if command is None:
        return (f"the distribution that provides it (config.json's 'distribution' field {_shown(repo.distribution)} "
                f"is not a valid package name, so no install command is suggested)")
    if repo.distribution_version is not None and not valid_version(repo.distribution_version):
        command += (f" (config.json's 'distribution_version' field {_shown(repo.distribution_version)} is not a "
                    f"valid version, so no minimum is given)")
    return command


def _build(repo: RepoConfig, where: str, registry, max_params: int | None = None, overrides: dict | None = None):
    """Build the architecture named by config.json from the installed plugin that provides it;
    `overrides` replace config values (checked against the architecture's typed config)."""
    from .registry import default_registry

    registry = registry or default_registry()
    needs = (f"{where} needs architecture {_shown(repo.architecture)} (plugin {_shown(repo.plugin)} from "
             f"distribution {_shown(repo.distribution)})")
    try:
        entry = registry.info(repo.architecture)
        spec = registry.model_spec(repo.architecture)
    except UnknownNameError:
        raise PluginError(f"{needs}, which no installed plugin provides. Install it: {_install_hint(repo)}") from None
    except PluginError as exc:
        raise PluginError(f"{needs}, but it cannot be built here: {exc} Install it: {_install_hint(repo)}") from None
    try:
        config = spec.config.from_json(json.dumps(repo.config))
    except ConfigError as exc:
        raise ConfigError(f"{where}: config.json holds a config the installed {repo.architecture!r} plugin refuses "
                          f"(saved with {_shown(repo.distribution)} {_shown(repo.distribution_version)}): {exc}") \
            from None
    variant = repo.variant if repo.variant in entry.variants else None
    values = {name: getattr(config, name) for name in type(config).model_fields}
    if overrides:
        from .config import validate_config

        values.update(overrides)
        validate_config(spec.config, values, repo.architecture)
    try:
        model = registry.create(repo.architecture, variant=variant, max_params=max_params, **values)
    except ZooError as exc:  # e.g. a config over the plugin's size limits: say which repo asked for it
        try:
            named = type(exc)(f"{where}: cannot build {repo.architecture!r} from its config.json: {exc}")
        except Exception:  # noqa: BLE001 - a plugin's error class with another signature: keep it as it is
            raise exc from None
        raise named from None
    model.zoo_identity = dataclasses.replace(model.zoo_identity, weights=repo.weights)
    _reapply_methods(model, repo, where, registry)
    return model


def _reapply_methods(model, repo: RepoConfig, where: str, registry) -> None:
    """Apply the structural training methods config.json records (quantized layers, pruning masks,
    extra heads), in their order, so that the saved weights fit the model they were trained in."""
    if not repo.methods:
        return
    from .training.method import apply_structural

    methods = []
    for recorded in repo.methods:
        try:
            method = registry.method(recorded["name"], **recorded["config"])
        except UnknownNameError:
            raise PluginError(f"{where} was trained with method {recorded['name']!r}, which changed the model's "
                              f"structure, and no installed plugin provides that method: install the package "
                              f"that provides it (see 'zoo list --methods' for the installed ones)") from None
        except ConfigError as exc:
            raise ConfigError(f"{where}: config.json records method {recorded['name']!r} with options the "
                              f"installed plugin refuses: {exc}") from None
        if not method.structural:
            raise WeightsError(f"{where}: config.json records method {recorded['name']!r}, which does not change a "
                               f"model's structure; only structural methods are recorded")
        methods.append(method)
    apply_structural(model, methods)


def load(source: str | os.PathLike, *, strict: bool = True, device=None, verify: bool = False,
         token: str | bool | None = None, max_params: int | None = None, registry=None):
    """Load a zoo repo: a local directory or 'hf-hub:org/name[@revision]'.

    The architecture is built by the installed plugin config.json names (never by code from the
    repo), then the weights load strictly: a missing, unexpected or mismatched key is an error that
    names it (strict=False loads what fits). Weights fetched from the Hub are always checked against
    the sha256 in config.json; verify=True checks a local directory's too (over the very bytes that
    are loaded). device: move the model there. max_params: the size limit of `zoo.create` (None:
    $PAPERZOO_MAX_PARAMS or the default): a config.json asking for a larger model is refused
    before anything is allocated.

    The weights are read into memory the model owns: changing or truncating the file afterwards
    does not reach the loaded model. config.json and the weights come from the same save even
    while other saves replace the folder. NaN/inf weights load with a RuntimeWarning naming them.
    """
    if isinstance(source, str) and source.startswith(HUB_PREFIX):
        repo, path, where = fetch_hub_repo(source, token)
        file = _open_weights(path)
        verify = False  # fetch_file checked it
    else:
        source = _as_path(source, "zoo.load source")
        repo, file, path = _local_repo(source)
        where = str(source)
    with file:
        model = _build(repo, where, registry, max_params)
        _load_file(model, file, path, f"{where}/{repo.weights_file}", strict=strict, fresh=True,
                   sha256=repo.weights_sha256 if verify else None)
    return model.to(device) if device is not None else model


def create_from_hub(uri: str, *, pretrained: bool | None = None, variant=None, task=None,
                    max_params: int | None = None, registry=None, **overrides):
    """`zoo.create("hf-hub:org/name[@revision]", **overrides)`: build the architecture its
    config.json names from the installed plugin, with `overrides` replacing config values, and
    (pretrained=True) load its weights as zoo.load does: safetensors only, checked against
    config.json's sha256, strictly. Tensors that an override reshapes (num_classes=3 for a new
    classifier) keep their fresh initialisation, with a warning naming them; any other tensor that
    does not fit is an error. pretrained=False fetches only config.json."""
    import warnings

    from .limits import max_params_limit

    if pretrained is not None and not isinstance(pretrained, bool):
        raise ConfigError(f"pretrained={_shown(pretrained)}: expected True or False")
    for option, value in (("variant", variant), ("task", task)):
        if value is not None:
            raise ConfigError(f"{option}={_shown(value)} does not apply to {_shown(uri)}: the repo's config.json "
                              f"gives the config; pass config values to change it (e.g. num_classes=3)")
    if pretrained is False:
        repo_id, revision = parse_hub_uri(uri)
        repo = read_repo_config(fetch_file(repo_id, CONFIG_NAME, revision))
        model = _build(repo, f"{HUB_PREFIX}{repo_id}", registry, max_params, overrides)
        model.zoo_identity = dataclasses.replace(model.zoo_identity, weights=None)
        return model
    repo, path, where = fetch_hub_repo(uri)
    with _open_weights(path) as file:
        model = _build(repo, where, registry, max_params, overrides)
        report = _load_file(model, file, path, f"{where}/{repo.weights_file}", strict=not overrides, fresh=True,
                            sha256=None)  # fetch_file checked the sha256
    if report.ok:
        return model
    limit = max_params_limit(max_params)
    as_saved, as_built = _built_shapes(repo, registry, limit), _built_shapes(repo, registry, limit, overrides)
    reshaped = {k for k in as_saved.keys() | as_built.keys() if as_saved.get(k) != as_built.get(k)}
    unexplained = [k for k in (*report.missing, *report.unexpected, *(m.split(":")[0] for m in report.mismatched))
                   if k not in reshaped]
    if unexplained:
        raise WeightsError(f"{where}/{repo.weights_file} does not fit the model built with {_shown(overrides)} "
                           f"({type(model).__name__}): {report.describe()}")
    warnings.warn(f"{where}: {', '.join(sorted(reshaped))} keep their fresh initialisation: {_shown(overrides)} "
                  f"changes their shapes, so the repo's weights for them do not apply", stacklevel=3)
    return model


def catalog_weights(name: str, registry=None):
    """(entry, weights) of a catalog checkpoint: 'arch.tag', or 'arch' for its first listed weights."""
    from .registry import default_registry, split_name

    registry = registry or default_registry()
    entry = registry.info(name)
    tag = split_name(name)[1]
    if not entry.weights:
        raise UnknownNameError(f"model {entry.name!r} has no pretrained weights in the catalog")
    return entry, entry.weights[tag] if tag else next(iter(entry.weights.values()))


def push_to_hub(model, repo_id: str, *, revision: str | None = None, private: bool | None = None,
                token: str | bool | None = None, commit_message: str | None = None, run=None,
                metrics: dict | None = None, license: str | None = None) -> PushResult:
    """Save `model` as a zoo repo (safetensors, config.json, model card) and upload it.

    run / metrics / license: as for `zoo.save` (a training run directory or its metrics go into
    the card). Returns a PushResult whose `.uri` ('hf-hub:org/name@<sha>') loads it back.
    """
    check_repo_id(repo_id)
    if revision is not None:
        check_revision(revision, f"repo {repo_id!r}")
    with tempfile.TemporaryDirectory(prefix="zoo-push-") as tmp:
        folder = save(model, Path(tmp) / repo_id.split("/")[-1], run=run, metrics=metrics, license=license,
                      repo_id=repo_id)
        return push_folder(folder, repo_id, revision=revision, private=private, token=token,
                           commit_message=commit_message)
