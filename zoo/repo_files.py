"""Read a zoo repo's files within limits: config.json, safetensors headers and tensors (bounded,
dtype-allowlisted, into memory the model owns), strict state-dict loading, and a local repo folder
read as one consistent save even while other saves replace it.

Nothing here unpickles: pickle checkpoints (.bin, .pth, .pt, .ckpt, .pkl) are refused unread, and
config.json and the safetensors header are size- and depth-limited before they are parsed.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple

from .errors import IntegrityError, ResourceError, UnsafeCheckpointError, WeightsError



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
    "load_weights",
    "read_repo_config",
    "read_safetensors",
    "check_repo_folder",
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
_MAX_METHODS = 32  # structural training methods a saved model may carry
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
    # training methods that changed the model's structure ({"name", "config"}, in the order applied):
    # zoo.load re-applies them before loading the weights
    methods: list = dataclasses.field(default_factory=list)

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
    methods = values.get("methods", [])
    if not isinstance(methods, list) or len(methods) > _MAX_METHODS or not all(
            isinstance(m, dict) and set(m) == {"name", "config"} and isinstance(m["name"], str)
            and 0 < len(m["name"]) <= _MAX_NAME_CHARS and isinstance(m["config"], dict) for m in methods):
        raise WeightsError(f"{path}: field 'methods' must be a list of at most {_MAX_METHODS} "
                           f"{{\"name\": <method name>, \"config\": {{...}}}} objects, got {_shown(methods)}")
    for name in sorted(fields - {"architecture", "config", "methods"}):
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
                           f"a Hub repo 'hf-hub:org/name[@revision]'")
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

