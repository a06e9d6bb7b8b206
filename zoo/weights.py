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
import hashlib
import json
import os
import re
import secrets
import shutil
import stat
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from .cards import MAX_RUN_METRICS_BYTES, pip_install_command, valid_version
from .errors import (
    ConfigError,
    HubError,
    IntegrityError,
    PluginError,
    ResourceError,
    UnknownNameError,
    UnsafeCheckpointError,
    WeightsError,
    ZooError,
)
from .hub import HUB_PREFIX, fetch_file, list_repo_files, parse_hub_uri, sha256_file, snapshot_commit
from .locks import exclusive

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "CARD_NAME",
    "FORMAT",
    "FORMAT_VERSION",
    "PICKLE_SUFFIXES",
    "MAX_CONFIG_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_HEADER_BYTES",
    "MAX_TENSORS",
    "DTYPES",
    "RepoConfig",
    "LoadReport",
    "save",
    "load",
    "load_weights",
    "read_repo_config",
    "read_safetensors",
    "check_repo_folder",
    "is_zoo_folder",
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
CHECKPOINTS_NAME = "checkpoints"  # zoo.train's checkpoint folder inside a run directory
FORMAT = "paperzoo"
FORMAT_VERSION = 1
# Files that are (or contain) pickles: reading them can run arbitrary code, so they are never read.
PICKLE_SUFFIXES = (".bin", ".pth", ".pt", ".ckpt", ".pkl", ".pickle", ".joblib")
_PICKLE_WHY = ("pickle files can run arbitrary code when loaded, so PaperZoo never reads them; "
               "convert the checkpoint to safetensors in an environment you trust")

# Limits checked before anything is parsed or allocated; each is far above what a real repo holds
# (a config.json is a few KiB; a safetensors header takes about 100 bytes per tensor).
MAX_CONFIG_BYTES = 1 << 20
MAX_JSON_DEPTH = 64
MAX_HEADER_BYTES = 16 << 20
MAX_TENSORS = 100_000
_MAX_NAME_CHARS = 256  # the name-like fields of config.json
# The safetensors dtypes torch models use; float8 and other exotic dtypes are refused.
DTYPES = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16", "I64": "int64",
          "I32": "int32", "I16": "int16", "I8": "int8", "U8": "uint8", "BOOL": "bool"}
_SHA256 = re.compile(r"[0-9a-f]{64}")
_READ_ATTEMPTS = 5  # a reader retries when a concurrent save swapped the folder out from under it


def _shown(value: Any, limit: int = 80) -> str:
    """repr() of a value from a file, cut short: hostile values can be megabytes long."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text):,} characters)"


def _as_path(value: Any, what: str) -> Path:
    if not isinstance(value, (str, os.PathLike)):
        raise WeightsError(f"{what} must be a path (str or os.PathLike), got {type(value).__name__} {_shown(value)}")
    path = Path(value)
    if "\0" in str(path):
        raise WeightsError(f"{what} {_shown(str(path))} holds a NUL character; it cannot be a path")
    return path


# --- JSON read from files ------------------------------------------------------------------------------


def _loads(data: bytes, where: Any) -> Any:
    """Parse JSON bytes; any failure (including nesting too deep for the parser) is a WeightsError."""
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise WeightsError(f"{where} is not valid JSON: not UTF-8 ({exc.reason} at byte {exc.start})") from None
    except RecursionError:
        raise WeightsError(f"{where} is not valid JSON for PaperZoo: nested deeper than {MAX_JSON_DEPTH} "
                           f"levels") from None
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        raise WeightsError(f"{where} is not valid JSON: {exc}") from None


def _check_depth(value: Any, where: Any) -> None:
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise WeightsError(f"{where} is not valid JSON for PaperZoo: nested deeper than {MAX_JSON_DEPTH} levels")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def _read_limited(file: BinaryIO, limit: int, where: Any, what: str) -> bytes:
    try:
        data = file.read(limit + 1)
    except OSError as exc:
        raise WeightsError(f"cannot read {where}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise ResourceError(f"{where} is over the {limit:,}-byte limit for {what}; refused unread")
    return data


def _open_regular(path: Path, where: Any, dir_fd: int | None = None) -> BinaryIO:
    """Open a regular file for reading (a FIFO or device would hang or never end: refused).
    With `dir_fd`, `path` is a name inside that open directory. FileNotFoundError passes through."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags, dir_fd=dir_fd) if dir_fd is not None else os.open(path, flags)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise WeightsError(f"cannot read {where}: {exc.strerror or exc}") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise WeightsError(f"{where} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


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
        return f" It looks like a transformers config (model_type {_shown(data.get('model_type'))})."
    if "_class_name" in data or "_diffusers_version" in data:
        return " It looks like a diffusers config."
    if "pretrained_cfg" in data or "num_classes" in data:
        return f" It looks like a timm config (architecture {_shown(data.get('architecture'))})."
    return ""


def read_repo_config(path: str | Path) -> RepoConfig:
    """Parse and check a zoo config.json (at most MAX_CONFIG_BYTES, nested at most MAX_JSON_DEPTH
    deep); a config from another library is refused with a hint."""
    path = _as_path(path, "config.json path")
    try:
        file = _open_regular(path, path)
    except FileNotFoundError:
        raise WeightsError(f"cannot read {path}: it does not exist") from None
    with file:
        return _repo_config(_read_limited(file, MAX_CONFIG_BYTES, path, CONFIG_NAME), path)


def _repo_config(raw: bytes, path: Path) -> RepoConfig:
    data = _loads(raw, path)
    _check_depth(data, path)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        keys = [_shown(k, 40) for k in sorted(data)[:8]] if isinstance(data, dict) else type(data).__name__
        raise WeightsError(f"{path} was not written by PaperZoo (no \"format\": \"{FORMAT}\"; it has {keys})."
                           + (_foreign_config_hint(data) if isinstance(data, dict) else "")
                           + " PaperZoo loads only repos it wrote: model.safetensors plus its config.json.")
    version = data.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version > FORMAT_VERSION:
        raise WeightsError(f"{path}: format_version {_shown(version)} is not readable by this PaperZoo (reads "
                           f"<= {FORMAT_VERSION}); upgrade paperzoo")
    fields = {f.name for f in dataclasses.fields(RepoConfig)}
    values = {k: v for k, v in data.items() if k in fields}
    for required, kind in (("architecture", str), ("config", dict)):
        if not isinstance(values.get(required), kind):
            raise WeightsError(f"{path}: field {required!r} must be a {kind.__name__}, got "
                               f"{_shown(values.get(required))}")
    for name in sorted(fields - {"architecture", "config"}):
        value = values.get(name)
        if (value is not None or name == "weights_file" and name in values) and (
                not isinstance(value, str) or len(value) > _MAX_NAME_CHARS):
            raise WeightsError(f"{path}: field {name!r} must be a string of at most {_MAX_NAME_CHARS} characters, "
                               f"got {_shown(value)}")
    if len(values["architecture"]) > _MAX_NAME_CHARS:
        raise WeightsError(f"{path}: field 'architecture' must be at most {_MAX_NAME_CHARS} characters, got "
                           f"{_shown(values['architecture'])}")
    sha = values.get("weights_sha256")
    if sha is not None and not _SHA256.fullmatch(sha):
        raise WeightsError(f"{path}: field 'weights_sha256' must be 64 lowercase hex digits, got {_shown(sha)}")
    for name in ("plugin", "distribution", "distribution_version", "zoo_version"):
        values.setdefault(name, None)  # informative only: a repo written without them still loads
    repo = RepoConfig(**values)
    _check_weights_name(repo.weights_file, path)
    return repo


def _check_weights_name(name: str, where: Any) -> None:
    if name.lower().endswith(PICKLE_SUFFIXES):
        raise UnsafeCheckpointError(f"{where}: weights file {_shown(name)} is a pickle checkpoint; {_PICKLE_WHY}")
    if not name.endswith(".safetensors") or "/" in name or "\\" in name or name.startswith(".") or "\0" in name:
        raise WeightsError(f"{where}: weights file {_shown(name)} must be a plain '*.safetensors' file name")


# --- safetensors files -----------------------------------------------------------------------------------


def _refuse_pickles(folder: Path, what: str) -> None:
    try:
        pickles = sorted(p.name for p in folder.iterdir() if p.name.lower().endswith(PICKLE_SUFFIXES))
    except OSError:
        return
    if pickles:
        raise UnsafeCheckpointError(f"{what}: only pickle checkpoint(s) {pickles[:10]} found, no {WEIGHTS_NAME}; "
                                    f"{_PICKLE_WHY}")


def _looks_like_pickle(head: bytes) -> bool:
    return head.startswith(b"PK\x03\x04") or (len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5)


@dataclass(frozen=True)
class _Tensor:
    """One entry of a safetensors header, checked: its byte range lies in the data section."""

    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


@dataclass(frozen=True)
class _Header:
    tensors: list[_Tensor]
    raw: bytes        # the 8-byte size and the JSON header, for the sha256 of the whole file
    data_bytes: int   # the size of the data section that follows


def _corrupt(where: Any, head: bytes, detail: str) -> WeightsError:
    if _looks_like_pickle(head):
        return UnsafeCheckpointError(f"{where} is a pickle (torch.save) file, not safetensors; it was not read: "
                                     f"{_PICKLE_WHY}")
    return WeightsError(f"{where} is not a valid safetensors file (truncated or corrupt: {detail})")


def _read_header(file: BinaryIO, where: Any) -> _Header:
    """Read and check a safetensors header: its size comes from the first 8 bytes and is capped
    (MAX_HEADER_BYTES, MAX_TENSORS) before the JSON is parsed; dtypes must be in DTYPES; the
    tensors must tile the data section exactly (no gaps, no overlaps, nothing past the end)."""
    try:
        size = os.fstat(file.fileno()).st_size
        head = file.read(8)
    except OSError as exc:
        raise WeightsError(f"cannot read {where}: {exc.strerror or exc}") from None
    if len(head) < 8:
        raise _corrupt(where, head, f"{size} bytes, too short for the 8-byte header size")
    header_bytes = int.from_bytes(head, "little")
    if header_bytes > size - 8:
        raise _corrupt(where, head, f"the header size {header_bytes:,} runs past the end of the {size:,}-byte file")
    if header_bytes > MAX_HEADER_BYTES:
        if _looks_like_pickle(head):
            raise _corrupt(where, head, "")
        raise ResourceError(f"{where}: its safetensors header is {header_bytes:,} bytes, over the limit of "
                            f"{MAX_HEADER_BYTES:,} bytes ({MAX_HEADER_BYTES >> 20} MiB); refused unparsed")
    raw = file.read(header_bytes)
    if len(raw) < header_bytes:
        raise _corrupt(where, head, "the file ended inside its header")
    entries = raw.count(b'"data_offsets"')  # one per tensor: counted before the slower parse
    if entries > MAX_TENSORS:
        raise ResourceError(f"{where}: its safetensors header has {entries:,} tensor entries, over the limit of "
                            f"{MAX_TENSORS:,}; refused unparsed")
    try:
        header = _loads(raw, f"the header of {where}")
    except WeightsError as exc:
        raise _corrupt(where, head, str(exc)) from None
    if not isinstance(header, dict):
        raise _corrupt(where, head, f"the header is a JSON {type(header).__name__}, not an object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise _corrupt(where, head, "__metadata__ must map strings to strings")
    if len(header) > MAX_TENSORS:
        raise ResourceError(f"{where}: its safetensors header lists {len(header):,} tensors, over the limit of "
                            f"{MAX_TENSORS:,}; refused")
    data_bytes = size - 8 - header_bytes
    tensors = [_header_entry(name, info, where, head) for name, info in header.items()]
    position = 0
    for tensor in sorted(tensors, key=lambda t: (t.begin, t.end)):
        if tensor.begin != position:
            raise _corrupt(where, head, f"tensor {_shown(tensor.name)} starts at data byte {tensor.begin:,}, "
                                        f"expected {position:,} (tensors overlap or leave a gap)")
        position = tensor.end
    if position != data_bytes:
        raise _corrupt(where, head, f"its tensors take {position:,} bytes of data but the file holds "
                                    f"{data_bytes:,} after the header")
    return _Header(tensors, head + raw, data_bytes)


@functools.lru_cache(maxsize=1)
def _torch_dtypes() -> dict:
    """{safetensors dtype: torch dtype} for DTYPES."""
    import torch

    return {name: getattr(torch, kind) for name, kind in DTYPES.items()}


def _header_entry(name: str, info: Any, where: Any, head: bytes) -> _Tensor:
    if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
        raise _corrupt(where, head, f"tensor {_shown(name)} must have exactly dtype, shape and data_offsets, "
                                    f"got {_shown(info)}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if not isinstance(dtype, str) or dtype not in DTYPES:
        raise WeightsError(f"{where}: tensor {_shown(name)} has dtype {_shown(dtype)}, which PaperZoo does not "
                           f"load (float8 and other exotic dtypes are refused); it loads {', '.join(DTYPES)}")

    def count(value) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    if not isinstance(shape, list) or len(shape) > 64 or not all(count(d) for d in shape):
        raise _corrupt(where, head, f"tensor {_shown(name)} has shape {_shown(shape)}, expected a list of sizes")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(count(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise _corrupt(where, head, f"tensor {_shown(name)} has data_offsets {_shown(offsets)}, expected "
                                    f"[begin, end]")
    numel = 1
    for dim in shape:
        numel *= dim
    nbytes = numel * _torch_dtypes()[dtype].itemsize
    if offsets[1] - offsets[0] != nbytes:
        raise _corrupt(where, head, f"tensor {_shown(name)} of dtype {dtype} and shape {shape} needs {nbytes:,} "
                                    f"bytes but data_offsets {offsets} give {offsets[1] - offsets[0]:,}")
    return _Tensor(name, dtype, tuple(shape), offsets[0], offsets[1])


def _read_exactly(file: BinaryIO, into: memoryview, where: Any, header: _Header) -> None:
    filled = 0
    try:
        while filled < len(into):
            got = file.readinto(into[filled:])
            if not got:
                raise _corrupt(where, header.raw[:8], "the file ended before its last tensor (it changed while it "
                                                      "was read)")
            filled += got
    except OSError as exc:
        raise WeightsError(f"cannot read {where}: {exc.strerror or exc}") from None


class _Spec(NamedTuple):
    """What the key check looks at of a tensor still in the file: its shape and dtype."""

    shape: Any  # torch.Size
    dtype: Any  # torch.dtype

    def is_floating_point(self) -> bool:
        return self.dtype.is_floating_point


def _specs(header: _Header) -> dict[str, _Spec]:
    """The header's tensors as shapes and dtypes, for checking against a model before reading."""
    import torch

    dtypes = _torch_dtypes()
    return {t.name: _Spec(torch.Size(t.shape), dtypes[t.dtype]) for t in header.tensors}


def _read_tensors(file: BinaryIO, header: _Header, where: Any, *, names: set[str] | None = None,
                  digest: bool = False) -> tuple[dict, str | None]:
    """The tensors called `names` (default: all), each read from the file into memory it owns (no
    memory map: a later change to the file cannot reach them), in header order; with `digest`, also
    the sha256 of the whole file, hashed from the very bytes read. Tensors not asked for are
    skipped unread (or only hashed), so a load never allocates more than what the model takes."""
    import numpy as np
    import torch

    hasher = hashlib.sha256(header.raw) if digest else None
    scratch = memoryview(bytearray(1 << 20)) if digest else None
    found = {}
    try:
        file.seek(len(header.raw))
    except OSError as exc:
        raise WeightsError(f"cannot read {where}: {exc.strerror or exc}") from None
    for entry in sorted(header.tensors, key=lambda t: t.begin):  # file order: they tile the data
        nbytes = entry.end - entry.begin
        dtype = _torch_dtypes()[entry.dtype]
        if names is not None and entry.name not in names:
            while hasher is not None and nbytes:
                step = min(nbytes, len(scratch))
                _read_exactly(file, scratch[:step], where, header)
                hasher.update(scratch[:step])
                nbytes -= step
            if nbytes:
                file.seek(nbytes, os.SEEK_CUR)
            continue
        try:
            buffer = np.empty(nbytes, dtype=np.uint8)  # numpy's allocations are aligned for every dtype
        except MemoryError:
            raise ResourceError(f"{where}: cannot allocate {nbytes:,} bytes for tensor {_shown(entry.name)}") \
                from None
        _read_exactly(file, memoryview(buffer), where, header)
        if hasher is not None:
            hasher.update(buffer)
        if nbytes == 0:
            tensor = torch.empty(entry.shape, dtype=dtype)
        elif entry.dtype == "BOOL":
            raw = torch.frombuffer(buffer, dtype=torch.uint8)
            if int(raw.max()) > 1:
                raise _corrupt(where, header.raw[:8], f"BOOL tensor {_shown(entry.name)} holds bytes other than 0 "
                                                      f"and 1")
            tensor = raw.view(torch.bool)
        else:
            tensor = torch.frombuffer(buffer, dtype=dtype)
        found[entry.name] = tensor.view(entry.shape)
    tensors = {t.name: found[t.name] for t in header.tensors if t.name in found}
    _warn_nonfinite(tensors, where)
    return tensors, hasher.hexdigest() if hasher is not None else None


def _nonfinite(tensors: dict) -> dict[str, int]:
    """{name: how many NaN/inf values} of the floating-point tensors that have any."""
    import torch

    counts = {}
    for name, tensor in tensors.items():
        # a finite sum means every value is finite; the sum is one fast pass, isfinite is not
        if tensor.is_floating_point() and tensor.numel() and not torch.isfinite(tensor.sum()):
            bad = tensor.numel() - int(torch.isfinite(tensor).sum())
            if bad:
                counts[name] = bad
    return counts


def _describe_counts(counts: dict[str, int], tensors: dict, limit: int = 10) -> str:
    shown = [f"{_shown(name, 60)} ({bad:,} of {tensors[name].numel():,})" for name, bad in list(counts.items())[:limit]]
    more = f", ... ({len(counts) - limit} more tensors)" if len(counts) > limit else ""
    return ", ".join(shown) + more


def _warn_nonfinite(tensors: dict, where: Any) -> None:
    counts = _nonfinite(tensors)
    if counts:
        warnings.warn(f"{where} holds NaN/inf weights: {_describe_counts(counts, tensors)}; they were loaded "
                      f"as they are, so outputs that use them will be NaN/inf", RuntimeWarning, stacklevel=3)


def read_safetensors(path: str | Path) -> dict:
    """Every tensor of a safetensors file, on CPU, owning its memory; a corrupt or truncated file, or
    one over the header limits or holding a dtype outside DTYPES, is a WeightsError (ResourceError
    for the limits). NaN/inf values are reported with a warning."""
    path = _as_path(path, "weights path")
    with _open_weights(path) as file:
        return _read_tensors(file, _read_header(file, path), path)[0]


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


def _check_state(model, tensors: dict, where: str, *, strict: bool, fresh: bool) -> tuple[LoadReport, set[str]]:
    """Check every key of `tensors` (tensors or _Specs: only names, shapes and dtypes are looked at)
    against the model; return the report and the names that fit. `fresh`: the model was just built
    for this load, so it first takes the checkpoint's float dtype."""
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
    bad = [k for k in tensors if k in own and (tensors[k].shape != own[k].shape or tensors[k].dtype != own[k].dtype)]
    mismatched = tuple(f"{k}: checkpoint {tensors[k].dtype} {tuple(tensors[k].shape)} vs model {own[k].dtype} "
                       f"{tuple(own[k].shape)}" for k in bad)
    report = LoadReport(missing, unexpected, mismatched)
    if strict and not report.ok:
        raise WeightsError(f"{where} does not fit the model ({type(model).__name__}): {report.describe()}. "
                           f"Pass strict=False to load the keys that fit.")
    return report, {k for k in tensors if k in own} - set(bad)


def _assign_state(model, tensors: dict, *, fresh: bool) -> None:
    """Load checked tensors. A fresh model's tensors are replaced by them (they own their memory,
    read by _read_tensors: no second copy is made); an existing model (load_weights) keeps its
    tensors and gets a copy, as do models with tied weights, whose ties must survive."""
    tied = any(_aliases(model.state_dict()).values())
    model.load_state_dict(tensors, strict=False, assign=fresh and not tied)


def _load_state(model, tensors: dict, where: str, *, strict: bool, fresh: bool) -> LoadReport:
    """Check every key, then load the tensors that fit."""
    report, usable = _check_state(model, tensors, where, strict=strict, fresh=fresh)
    _assign_state(model, {k: v for k, v in tensors.items() if k in usable}, fresh=fresh)
    return report


def _load_file(model, file: BinaryIO, path: Any, where: str, *, strict: bool, fresh: bool,
               sha256: str | None = None) -> LoadReport:
    """Load an open safetensors file into `model`. Its header is checked against the model before
    any tensor is read, and only the tensors that fit are read: a file can never make the load
    allocate more than the model holds. With `sha256`, the file must hash to it (over the bytes
    read) before anything is loaded."""
    header = _read_header(file, path)
    report, usable = _check_state(model, _specs(header), where, strict=strict, fresh=fresh)
    tensors, digest = _read_tensors(file, header, path, names=usable, digest=sha256 is not None)
    if sha256 is not None and digest != sha256:
        raise IntegrityError(f"{path}: sha256 differs from the weights_sha256 in its {CONFIG_NAME}; refused")
    _assign_state(model, tensors, fresh=fresh)
    return report


def _open_weights(path: Path) -> BinaryIO:
    if path.name.lower().endswith(PICKLE_SUFFIXES):
        raise UnsafeCheckpointError(f"{path} is a pickle checkpoint; {_PICKLE_WHY}")
    try:
        return _open_regular(path, path)
    except FileNotFoundError:
        raise WeightsError(f"weights file {path} does not exist") from None


def load_weights(model, path: str | Path, *, strict: bool = True) -> LoadReport:
    """Load a safetensors file into an existing model; strict by default (every key must fit)."""
    path = _as_path(path, "weights path")
    with _open_weights(path) as file:
        return _load_file(model, file, path, str(path), strict=strict, fresh=False)


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
            or _is_zoo_json(folder / CONFIG_NAME) or _is_zoo_json(folder / METRICS_NAME, "history", "final"))


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

    from . import __version__
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
    return target


# --- load ------------------------------------------------------------------------------------------------------


class _Swapped(Exception):
    """The folder being read was swapped out by a concurrent save (and is being deleted): read the
    folder now at that path instead."""


def _open_folder(folder: Path) -> int | None:
    """A descriptor pinning the folder's current contents, so config.json and the weights are read
    from the same save; None where the platform cannot open files relative to a folder."""
    if os.open not in os.supports_dir_fd or not hasattr(os, "O_DIRECTORY"):
        return None
    try:
        return os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except FileNotFoundError:
        raise _Swapped from None
    except OSError as exc:
        raise WeightsError(f"cannot read {folder}: {exc.strerror or exc}") from None


def _was_swapped(folder: Path, dir_fd: int | None) -> bool:
    if dir_fd is None:
        return False
    pinned = os.fstat(dir_fd)
    try:
        now = os.stat(folder)
    except OSError:
        return True
    return (pinned.st_dev, pinned.st_ino) != (now.st_dev, now.st_ino) or pinned.st_nlink == 0


def _open_member(folder: Path, dir_fd: int | None, name: str) -> BinaryIO | None:
    """Open `name` in the pinned folder; None when it is missing (and the folder was not swapped)."""
    try:
        return _open_regular(Path(name) if dir_fd is not None else folder / name, folder / name, dir_fd)
    except FileNotFoundError:
        if _was_swapped(folder, dir_fd):
            raise _Swapped from None
        return None


def _open_local_repo(source: Path) -> tuple[RepoConfig, BinaryIO, Path]:
    if source.is_file():
        if source.name.lower().endswith(PICKLE_SUFFIXES):
            raise UnsafeCheckpointError(f"{source} is a pickle checkpoint; {_PICKLE_WHY}")
        raise WeightsError(f"{source} is a file; zoo.load takes the repo directory that holds {CONFIG_NAME} and "
                           f"{WEIGHTS_NAME}. To load bare weights into a model, use zoo.load_weights(model, path)")
    if not source.is_dir():
        raise WeightsError(f"no directory {source}; zoo.load takes a directory written by zoo.save or "
                           f"'{HUB_PREFIX}org/name[@revision]'")
    dir_fd = _open_folder(source)
    try:
        config = _open_member(source, dir_fd, CONFIG_NAME)
        if config is None:
            _refuse_pickles(source, str(source))
            raise WeightsError(f"{source} is not a zoo repo: it has no {CONFIG_NAME} (zoo.save writes one)")
        with config:
            repo = _repo_config(_read_limited(config, MAX_CONFIG_BYTES, source / CONFIG_NAME, CONFIG_NAME),
                                source / CONFIG_NAME)
        weights = _open_member(source, dir_fd, repo.weights_file)
        if weights is None:
            _refuse_pickles(source, str(source))
            raise WeightsError(f"{source}: {repo.weights_file} is missing")
        return repo, weights, source / repo.weights_file
    finally:
        if dir_fd is not None:
            os.close(dir_fd)


def _local_repo(source: Path) -> tuple[RepoConfig, BinaryIO, Path]:
    """(config, open weights file, its path) of a local repo, both files from the same save even
    while other saves replace the folder."""
    for _ in range(_READ_ATTEMPTS):
        try:
            return _open_local_repo(source)
        except _Swapped:
            continue
    raise WeightsError(f"{source} was replaced by other saves {_READ_ATTEMPTS} times while it was being read; "
                       f"try again when they are done")


def check_repo_folder(folder: str | Path) -> RepoConfig:
    """Check that a folder is a complete zoo repo (used before pushing): config, valid weights, no pickles."""
    folder = _as_path(folder, "repo folder")
    if not folder.is_dir():
        raise WeightsError(f"{folder} is not a directory")
    pickles = sorted(p.name for p in folder.iterdir() if p.name.lower().endswith(PICKLE_SUFFIXES))
    if pickles:
        raise UnsafeCheckpointError(f"{folder} holds pickle file(s) {pickles}; {_PICKLE_WHY}. Remove them first")
    if not (folder / CONFIG_NAME).is_file():
        raise WeightsError(f"{folder} is not a zoo repo: it has no {CONFIG_NAME} (write one with zoo.save)")
    repo, file, weights = _local_repo(folder)
    with file:
        _read_header(file, weights)
        if repo.weights_sha256 is not None:
            file.seek(0)
            digest = hashlib.sha256()
            for block in iter(lambda: file.read(1 << 20), b""):
                digest.update(block)
            if digest.hexdigest() != repo.weights_sha256:
                raise IntegrityError(f"{weights}: sha256 differs from the weights_sha256 in {CONFIG_NAME}; the "
                                     f"folder was changed after zoo.save wrote it")
    return repo


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


def _build(repo: RepoConfig, where: str, registry, max_params: int | None = None):
    """Build the architecture named by config.json from the installed plugin that provides it."""
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
    try:
        model = registry.create(repo.architecture, variant=variant, max_params=max_params, **values)
    except ZooError as exc:  # e.g. a config over the plugin's size limits: say which repo asked for it
        try:
            named = type(exc)(f"{where}: cannot build {repo.architecture!r} from its config.json: {exc}")
        except Exception:  # noqa: BLE001 - a plugin's error class with another signature: keep it as it is
            raise exc from None
        raise named from None
    model.zoo_identity = dataclasses.replace(model.zoo_identity, weights=repo.weights)
    return model


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
    with _open_weights(path) as file:
        return _load_file(model, file, path, f"weights {entry.name}.{weights.tag} ({path})", strict=True, fresh=True)
