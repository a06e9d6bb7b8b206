"""Checkpoints that are never pickled, and the checks a checkpoint passes before a run resumes from it.

    <out_dir>/checkpoints/epoch-00003-batch-000000/
        model.safetensors       the model's state dict
        state.safetensors       tensors of the optimizer, scheduler and loss-scaler states (and the
                                best weights, for early stopping)
        state.json              position, counters, history, configs, and those states' other values
                                (tensors appear as {"__tensor__": key}); the sha256 of every other file
                                ("files") and of its own content ("digest")
        rng-rank<r>.json        python and numpy RNG states of process r
        rng-rank<r>.safetensors torch RNG states of process r (uint8 tensors)

A checkpoint is written into a staging folder (".<name>.partial") that is renamed into place when
complete; a staging folder is ignored, and removed by the next run.

`load_resume` checks a checkpoint before anything of it is used, in this order: the digests (a file
damaged or edited after it was written is refused), a typed schema of state.json (types, ranges,
finite numbers), then its agreement with the resuming run: task, model and training config; the
position (epoch, batch, global step) against the epochs, batches per epoch and the history; the
early-stopping record replayed from the history; the model weights and every optimizer-state
tensor against the model's parameters (shape, dtype, finite); optimizer hyperparameters against
the config, the learning rate against the schedule at the saved step, the scheduler and loss-scaler
states; and each RNG state's format. A failure is a CheckpointError that names the field and the
value expected, and nothing is applied to the model or the optimizers until every check passed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pydantic
import torch
from pydantic import AllowInfNan, BaseModel, ConfigDict, Field

from ..errors import ZooError

__all__ = ["CheckpointError", "flatten_state", "rng_state", "set_rng_state", "begin_checkpoint", "write_rng",
           "finish_checkpoint", "remove_partial", "read_checkpoint", "read_rng", "ResumeTarget", "Resume",
           "load_resume", "latest_checkpoint", "checkpoint_name", "CHECKPOINTS"]

CHECKPOINTS = "checkpoints"
MODEL_FILE, STATE_FILE, JSON_FILE = "model.safetensors", "state.safetensors", "state.json"
FORMAT = "paperzoo-checkpoint"
TENSOR = "__tensor__"
TUPLE = "__tuple__"
INT_KEY = "__int__:"  # JSON keys are strings: marks an int key (optimizer states use them)
# A state.json holds the history and scalars (tensors live in state.safetensors): far less than this.
MAX_JSON_BYTES = 64 << 20
MAX_COUNT = 2**53  # counters beyond this lose precision in JSON readers; no run gets near it
_NAME = re.compile(r"epoch-(\d{5,})-batch-(\d{6,})")
_INDEX_KEY = re.compile(re.escape(INT_KEY) + r"([0-9]{1,9})")


class CheckpointError(ZooError):
    """A checkpoint is missing, unfinished, corrupt, edited, or does not belong to this run."""


def checkpoint_name(epoch: int, batch: int) -> str:
    """Sortable name of the position `batch` batches into epoch `epoch` (0-based)."""
    return f"epoch-{epoch:05d}-batch-{batch:06d}"


# --- writing ---------------------------------------------------------------------------------------


def flatten_state(obj: Any, tensors: dict, prefix: str) -> Any:
    """JSON-able copy of a nested state with every tensor moved into `tensors` under a path key."""
    if isinstance(obj, torch.Tensor):
        tensors[prefix] = obj.detach().to("cpu").contiguous()
        return {TENSOR: prefix}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)) or isinstance(k, bool):
                raise CheckpointError(f"cannot checkpoint a state with a {type(k).__name__} key {k!r} at {prefix}")
            out[k if isinstance(k, str) else f"{INT_KEY}{k}"] = flatten_state(v, tensors, f"{prefix}.{k}")
        return out
    if isinstance(obj, tuple):
        return {TUPLE: [flatten_state(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]}
    if isinstance(obj, list):
        return [flatten_state(v, tensors, f"{prefix}.{i}") for i, v in enumerate(obj)]
    if isinstance(obj, (bool, int, float, str)) or obj is None:
        return obj
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    raise CheckpointError(f"cannot checkpoint a value of type {type(obj).__name__} at {prefix}: only tensors, "
                          f"numbers, strings, lists, tuples and dicts are written (no pickle)")


def rng_state() -> tuple[dict, dict]:
    """(JSON part, tensors) of the python, numpy and torch (CPU and accelerator) RNG states."""
    version, internal, gauss = random.getstate()
    name, keys, pos, has_gauss, cached = np.random.get_state()
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    return ({"python": [version, list(internal), gauss],
             "numpy": [name, keys.tolist(), int(pos), int(has_gauss), float(cached)]}, tensors)


def set_rng_state(state: dict, tensors: dict) -> None:
    """Apply RNG states that `read_rng` returned (and so checked)."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))]
    if cuda and torch.cuda.is_available():
        try:
            torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])
        except RuntimeError as exc:  # the layout of a CUDA generator state is the driver's to check
            raise CheckpointError(f"the CUDA RNG states of this checkpoint do not load: {exc}") from None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _digest(state: dict) -> str:
    """sha256 of a state's canonical JSON (sorted keys, no spaces), without its "digest" entry."""
    body = {k: v for k, v in state.items() if k != "digest"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def begin_checkpoint(root: Path, name: str) -> Path:
    """Create the (empty) staging folder of checkpoint `name`; main process only. Its name is the
    same on every process, which write their RNG states into it."""
    root.mkdir(parents=True, exist_ok=True)
    staging = root / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    return staging


def write_rng(staging: Path, rank: int) -> None:
    """This process's RNG states: rng-rank<r>.json (python, numpy) and rng-rank<r>.safetensors (torch)."""
    from safetensors.torch import save_file

    state, tensors = rng_state()
    save_file(tensors, str(staging / f"rng-rank{rank}.safetensors"), metadata={"format": FORMAT})
    (staging / f"rng-rank{rank}.json").write_text(json.dumps(state), encoding="utf-8")


def finish_checkpoint(staging: Path, final: Path, *, model: torch.nn.Module, state: dict, tensors: dict,
                      keep: int) -> Path:
    """Write the model and run state into `staging` (state.json last, with the sha256 of the other
    files and its own digest), sync it to disk and rename it to `final` (the atomic step), then keep
    only the newest `keep` checkpoints. Main process only."""
    from safetensors.torch import save_file, save_model

    try:
        save_model(model, str(staging / MODEL_FILE), metadata={"format": "pt"})
        save_file(tensors, str(staging / STATE_FILE), metadata={"format": FORMAT})
        files = {p.name: _sha256(p) for p in sorted(staging.iterdir()) if p.is_file()}
        # the digest covers what a reader will parse: the state after a JSON round trip
        body = json.loads(json.dumps({"format": FORMAT, **state, "files": files}))
        body["digest"] = _digest(body)
        (staging / JSON_FILE).write_text(json.dumps(body), encoding="utf-8")
        for file in staging.iterdir():
            _fsync(file)
        if final.exists():  # the same position written again (a resumed run): replace it whole
            shutil.rmtree(final)
        os.rename(staging, final)
        if hasattr(os, "O_DIRECTORY"):
            fd = os.open(final.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    for old in _complete(final.parent)[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def remove_partial(root: Path) -> None:
    """Delete unfinished checkpoint folders (left by a killed run)."""
    if root.is_dir():
        for partial in root.glob(".*.partial"):
            shutil.rmtree(partial, ignore_errors=True)


def _complete(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and _NAME.fullmatch(p.name))


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of a run directory, or None."""
    found = _complete(Path(out_dir) / CHECKPOINTS)
    return found[-1] if found else None


# --- reading: digests and the schema of state.json -----------------------------------------------------

_MISSING = type("Missing", (), {"__repr__": lambda self: "<missing>"})()
_Text = type("Text", (str,), {"__repr__": str.__str__})  # a description shown as it is, not quoted


def _short(value: Any, limit: int = 100) -> str:
    if isinstance(value, torch.Tensor):
        return f"a {tuple(value.shape)} {str(value.dtype).removeprefix('torch.')} tensor"
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _refuse(where: Path, field: str, expected: str, value: Any = _MISSING) -> CheckpointError:
    got = "is missing" if value is _MISSING else f"is {_short(value)}"
    return CheckpointError(f"checkpoint {where}: {field} {got}; expected {expected}")


Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
Positive = Annotated[int, Field(ge=1, le=MAX_COUNT)]
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
AnyFloat = Annotated[float, AllowInfNan(True)]  # metric values may be NaN (e.g. r2 of a constant split)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)


class _HistoryEntry(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", allow_inf_nan=False)
    __pydantic_extra__: dict[str, AnyFloat]

    epoch: Positive
    step: Count
    lr: Annotated[float, Field(ge=0)]
    train_loss: float


class _RunState(_Strict):
    epoch: Count
    batch: Count
    global_step: Count
    samples: Count
    epoch_loss: float
    epoch_batches: Count
    history: list[_HistoryEntry]
    best_value: AnyFloat | None
    best_epoch: Positive | None
    bad_evals: Count
    seconds: Annotated[float, Field(ge=0)]


class _State(_Strict):
    format: Literal["paperzoo-checkpoint"]
    task: str
    architecture: str | None
    config: dict[str, Any] | None
    training: dict[str, Any]
    run: _RunState
    accelerator_step: Count
    optimizers: dict[str, Any]
    schedulers: dict[str, Any]
    scaler: dict[str, Any] | None
    methods: list[dict[str, Any]] = []  # [{"name", "config", "state"}] of the run's training methods, in order
    files: dict[str, Sha256]


def _schema_error(where: Path, exc: pydantic.ValidationError, prefix: str = "") -> CheckpointError:
    problems = []
    for err in exc.errors()[:5]:
        loc = prefix + ".".join(str(p) for p in err["loc"])
        if err["type"] == "missing":
            problems.append(f"{loc} is missing")
        elif err["type"] == "extra_forbidden":
            problems.append(f"{loc} is not a field of a checkpoint")
        else:
            problems.append(f"{loc}={_short(err.get('input'))}: {err['msg']}")
    more = f" (and {exc.error_count() - 5} more)" if exc.error_count() > 5 else ""
    return CheckpointError(f"checkpoint {where}: {JSON_FILE} fails its schema: " + "; ".join(problems) + more)


def _read_json(where: Path, name: str, limit: int) -> Any:
    file = where / name
    try:
        if file.stat().st_size > limit:
            raise CheckpointError(f"checkpoint {where}: {name} is {file.stat().st_size:,} bytes, more than a "
                                  f"checkpoint writes (limit {limit:,})")
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"checkpoint {where}: {name} is unreadable or corrupt "
                              f"({_short(str(exc), 200)})") from None


def _verify(where: Path, name: str, files: dict, required: bool = True) -> None:
    """Compare a file's sha256 with the one state.json recorded when the checkpoint was written."""
    expected = files.get(name)
    if expected is None:
        if required:
            raise _refuse(where, f"files.{name}", f"the sha256 of {name}, recorded when the checkpoint was written")
        return
    try:
        actual = _sha256(where / name)
    except OSError as exc:
        raise CheckpointError(f"checkpoint {where}: {name} is unreadable ({exc.strerror or exc})") from None
    if actual != expected:
        raise CheckpointError(f"checkpoint {where}: {name} was damaged or edited after it was written: its sha256 "
                              f"{actual[:16]}... differs from files.{name}={expected[:16]}... in {JSON_FILE}")


def _load_tensors(where: Path, name: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        # fresh allocations: a tensor read from the file may start at any offset of its buffer, and
        # vectorised reductions (LBFGS's dot products) round differently on differently aligned data
        return {key: value.clone() for key, value in load_file(str(where / name)).items()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"checkpoint {where}: {name} is corrupt ({_short(str(exc), 200)})") from None


def read_checkpoint(path: str | Path) -> tuple[dict, dict]:
    """(state.json, tensors of state.safetensors) of a checkpoint folder, once both match their digests
    and state.json its schema; CheckpointError otherwise. What `load_resume` checks on top needs the
    resuming run."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no checkpoint at {path}: expected a folder with {MODEL_FILE}, {STATE_FILE}, "
                              f"{JSON_FILE}")
    missing = [f for f in (MODEL_FILE, STATE_FILE, JSON_FILE) if not (path / f).is_file()]
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    state = _read_json(path, JSON_FILE, MAX_JSON_BYTES)
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        found = _short(state.get("format", _MISSING)) if isinstance(state, dict) else f"a JSON {type(state).__name__}"
        raise CheckpointError(f"checkpoint {path}: {JSON_FILE} is not a {FORMAT} state (its format field is {found})")
    digest = state.pop("digest", None)
    if digest is None:
        raise CheckpointError(f"checkpoint {path}: {JSON_FILE} has no digest: it was written by an older version "
                              f"of the zoo, or edited; start the run afresh (overwrite=True)")
    try:
        same = digest == _digest(state)
    except (ValueError, RecursionError):
        same = False
    if not same:
        raise CheckpointError(f"checkpoint {path}: {JSON_FILE} was edited or damaged after it was written: its "
                              f"content does not match its digest ({_short(digest, 20)})")
    try:
        _State.model_validate(state)
    except pydantic.ValidationError as exc:
        raise _schema_error(path, exc) from None
    except RecursionError:
        raise CheckpointError(f"checkpoint {path}: {JSON_FILE} is nested too deeply to be a checkpoint state") from None
    _verify(path, STATE_FILE, state["files"])
    return state, _load_tensors(path, STATE_FILE)


# --- reading: the RNG states of one process ---------------------------------------------------------


def _uint32s(where: Path, field: str, values: Any, count: int) -> None:
    if not isinstance(values, list) or len(values) != count:
        size = _Text(f"{len(values)} values") if isinstance(values, list) else values
        raise _refuse(where, field, f"a list of {count} integers", size)
    for i, v in enumerate(values):
        if type(v) is not int or not 0 <= v < 2**32:
            raise _refuse(where, f"{field}.{i}", "an integer in [0, 2**32)", v)


def _check_rng(where: Path, rank: int, state: Any, tensors: dict) -> None:
    json_name, torch_name = f"rng-rank{rank}.json", f"rng-rank{rank}.safetensors"
    if not isinstance(state, dict) or set(state) != {"python", "numpy"}:
        raise _refuse(where, json_name, "{'python': [...], 'numpy': [...]}", state)
    python = state["python"]
    field = f"{json_name}: python"
    if not isinstance(python, list) or len(python) != 3:
        raise _refuse(where, field, "[3, 625 integers, gauss], as random.getstate() gives", python)
    version, internal, gauss = python
    if type(version) is not int or version != 3:
        raise _refuse(where, f"{field}.0", "version 3", version)
    _uint32s(where, f"{field}.1", internal, 625)
    if internal[-1] > 624:
        raise _refuse(where, f"{field}.1.624", "a position in 0..624", internal[-1])
    if gauss is not None and not (type(gauss) is float and math.isfinite(gauss)):
        raise _refuse(where, f"{field}.2", "None or a finite float (the cached gauss value)", gauss)
    numpy_state = state["numpy"]
    field = f"{json_name}: numpy"
    if not isinstance(numpy_state, list) or len(numpy_state) != 5:
        raise _refuse(where, field, "['MT19937', 624 keys, pos, has_gauss, cached_gaussian]", numpy_state)
    name, keys, pos, has_gauss, cached = numpy_state
    if name != "MT19937":
        raise _refuse(where, f"{field}.0", "'MT19937'", name)
    _uint32s(where, f"{field}.1", keys, 624)
    if type(pos) is not int or not 0 <= pos <= 624:
        raise _refuse(where, f"{field}.2", "a position in 0..624", pos)
    if type(has_gauss) is not int or has_gauss not in (0, 1):
        raise _refuse(where, f"{field}.3", "0 or 1", has_gauss)
    if type(cached) is not float or not math.isfinite(cached):
        raise _refuse(where, f"{field}.4", "a finite float", cached)
    unknown = [k for k in tensors if k != "rng.torch" and not re.fullmatch(r"rng\.cuda\.[0-9]{1,4}", k)]
    if unknown or "rng.torch" not in tensors:
        raise _refuse(where, f"{torch_name} tensors", "'rng.torch' and optionally 'rng.cuda.<i>'", sorted(tensors))
    size = torch.get_rng_state().shape
    for key, value in tensors.items():
        if value.dtype != torch.uint8 or value.dim() != 1 or (key == "rng.torch" and value.shape != size):
            size_text = f" of {size[0]} bytes" if key == "rng.torch" else ""
            raise _refuse(where, f"{torch_name}: {key}", f"a 1-d uint8 tensor{size_text}", value)
    # the generators check what the formats above leave (e.g. the torch state's position): on scratch
    # generators, so that the global ones change only once everything passed
    for label, apply in ((f"{field}", lambda: np.random.RandomState().set_state(
            (name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))),
            (f"{json_name}: python", lambda: random.Random().setstate((version, tuple(internal), gauss))),
            (f"{torch_name}: rng.torch", lambda: torch.Generator().set_state(tensors["rng.torch"]))):
        try:
            apply()
        except (ValueError, TypeError, OverflowError, RuntimeError) as exc:
            raise CheckpointError(f"checkpoint {where}: {label} is not a valid generator state "
                                  f"({_short(str(exc), 200)})") from None


def read_rng(path: str | Path, rank: int, files: dict | None = None) -> tuple[dict, dict]:
    """The checked RNG states of process `rank` in a checkpoint (for `set_rng_state`). `files`: the
    sha256 values of state.json; the main process always records its own files."""
    path = Path(path)
    json_name, torch_name = f"rng-rank{rank}.json", f"rng-rank{rank}.safetensors"
    if not (path / json_name).is_file() or not (path / torch_name).is_file():
        raise CheckpointError(f"checkpoint {path} has no RNG state for process {rank} ({json_name}, {torch_name}): "
                              f"it was written by fewer processes, or a file was removed; resume with the same "
                              f"number of processes")
    for name in (json_name, torch_name):
        _verify(path, name, files or {}, required=files is not None and rank == 0)
    state = _read_json(path, json_name, 1 << 20)
    tensors = _load_tensors(path, torch_name)
    _check_rng(path, rank, state, tensors)
    return state, tensors


# --- checking a checkpoint against the run that resumes from it ---------------------------------------


@dataclass
class ResumeTarget:
    """The run that resumes: what a checkpoint must agree with.

    recorded: the history keys this run writes (`allows(key)`, `missing(keys)`, `splits`).
    optimizers / schedulers: freshly built for this run, nothing loaded. lr_factor(training): the
    schedule of the run that wrote the checkpoint (its epochs and max_steps may differ from this
    run's): a group's lr is its initial_lr times lr_factor(training)(scheduler step). scaler: the fp16 loss scaler
    or None. exact_steps: every
    optimizer step is also a scheduler step (the standard step without a loss scaler).
    """

    task: str
    identity: dict
    training: Any  # TrainConfig
    may_change: frozenset
    batches_per_epoch: int
    model: torch.nn.Module
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    lr_factor: Callable[[Any], Callable[[int], float]]
    scaler: Any
    monitor: str
    mode: str
    recorded: Any
    exact_steps: bool
    methods: list = field(default_factory=list)  # the run's Method objects, in order


@dataclass
class Resume:
    """A checked checkpoint, ready to apply: values and CPU tensors, nothing applied yet."""

    run: dict
    model: dict[str, torch.Tensor]
    optimizers: dict[str, dict]
    schedulers: dict[str, dict]
    scaler: dict | None
    accelerator_step: int
    best: dict[str, torch.Tensor]
    rng: tuple[dict, dict]
    methods: list[dict] = field(default_factory=list)  # each method's state_dict, in the run's order


def _same(a: Any, b: Any) -> bool:
    """Equal values of the same JSON kind (True is not 1; NaN equals NaN; 1 equals 1.0)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (a != a and b != b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(_same, a, b))
    return type(a) is type(b) and a == b


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class _Tensors:
    """The tensors of state.safetensors, each handed out to the one place state.json refers to it."""

    def __init__(self, where: Path, tensors: dict):
        self.where, self.tensors, self.used = where, tensors, set()

    def resolve(self, value: Any, field: str, key: str) -> Any:
        """The state written by `flatten_state`, rebuilt: tensor references, tuples and int keys.
        `key` is the tensor name `flatten_state` gave this position."""
        if isinstance(value, dict):
            if TENSOR in value:
                if value != {TENSOR: key}:
                    raise _refuse(self.where, field, f"{{'{TENSOR}': {key!r}}}, a tensor of {STATE_FILE}", value)
                if key not in self.tensors or key in self.used:
                    raise _refuse(self.where, field, f"the tensor {key!r} in {STATE_FILE}", _Text(
                        "a reference to a tensor that file does not have" if key not in self.tensors else
                        "a reference to a tensor used elsewhere"))
                self.used.add(key)
                return self.tensors[key]
            if TUPLE in value:
                if len(value) != 1 or not isinstance(value[TUPLE], list):
                    raise _refuse(self.where, field, f"{{'{TUPLE}': [...]}}", value)
                return tuple(self.resolve(v, f"{field}.{i}", f"{key}.{i}") for i, v in enumerate(value[TUPLE]))
            out = {}
            for k, v in value.items():
                if k.startswith(INT_KEY):
                    match = _INDEX_KEY.fullmatch(k)
                    if not match:
                        raise _refuse(self.where, f"{field}.{k}", f"a key {INT_KEY}<integer>", k)
                    k = int(match[1])
                out[k] = self.resolve(v, f"{field}.{k}", f"{key}.{k}")
            return out
        if isinstance(value, list):
            return [self.resolve(v, f"{field}.{i}", f"{key}.{i}") for i, v in enumerate(value)]
        return value


def _check_identity(where: Path, state: dict, target: ResumeTarget):
    """Task, model and training config as this run's; returns the checkpoint's TrainConfig."""
    from .config import TrainConfig

    if state["task"] != target.task:
        raise _refuse(where, "task", f"{target.task!r}, the task of this run", state["task"])
    if state["architecture"] != target.identity["architecture"]:
        raise _refuse(where, "architecture", f"{target.identity['architecture']!r}, the model of this run",
                      state["architecture"])
    saved, now = state["config"], target.identity["config"]
    if isinstance(saved, dict) and isinstance(now, dict):
        for key in sorted(saved.keys() | now.keys()):
            if not _same(saved.get(key, _MISSING), now.get(key, _MISSING)):
                raise _refuse(where, f"config.{key}", f"{now.get(key, _MISSING)!r}, as the model's config has: this "
                              f"checkpoint was written for another model", saved.get(key, _MISSING))
    elif not _same(saved, now):
        raise _refuse(where, "config", f"{now!r}, the model's config", saved)
    try:
        training = TrainConfig.model_validate(state["training"])
    except pydantic.ValidationError as exc:
        raise _schema_error(where, exc, "training.") from None
    before, current = state["training"], target.training.to_dict()
    problems = [f"training.{key}={before.get(key, _MISSING)!r} (now {value!r})" for key, value in current.items()
                if key not in target.may_change and not _same(before.get(key, _MISSING), value)]
    if problems:
        raise CheckpointError(f"checkpoint {where} belongs to another run: it has " + "; ".join(problems)
                              + f". Only {', '.join(sorted(target.may_change))} may change on resume.")
    return training


def _check_position(where: Path, state: dict, target: ResumeTarget) -> None:
    run, config = state["run"], target.training
    per_epoch, accumulation = target.batches_per_epoch, config.grad_accumulation
    steps_per_epoch = math.ceil(per_epoch / accumulation)
    epoch, batch, history = run["epoch"], run["batch"], run["history"]
    if epoch > config.epochs or (epoch == config.epochs and batch):
        raise _refuse(where, "run.epoch", f"a position inside epochs={config.epochs} (to train longer, raise epochs)",
                      epoch)
    if len(history) != epoch:
        raise _refuse(where, "run.history", f"one entry per finished epoch (run.epoch={epoch})",
                      _Text(f"{len(history)} entries"))
    if batch > per_epoch:
        raise _refuse(where, "run.batch", f"at most the {per_epoch} batches of an epoch", batch)
    last_batch = batch == per_epoch  # a checkpoint after an epoch's last batch, before its evaluation
    if batch % accumulation and not last_batch:
        raise _refuse(where, "run.batch", f"a multiple of grad_accumulation={accumulation} (checkpoints inside an "
                      f"epoch follow optimizer steps)", batch)
    if run["epoch_batches"] != batch:
        raise _refuse(where, "run.epoch_batches", f"{batch}, as run.batch", run["epoch_batches"])
    if batch == 0 and run["epoch_loss"] != 0:
        raise _refuse(where, "run.epoch_loss", "0.0 at the start of an epoch (run.batch=0)", run["epoch_loss"])
    previous, evaluated_keys = 0, None
    for i, entry in enumerate(history):
        if entry["epoch"] != i + 1:
            raise _refuse(where, f"run.history.{i}.epoch", f"{i + 1}", entry["epoch"])
        if not previous <= entry["step"] <= previous + steps_per_epoch:
            raise _refuse(where, f"run.history.{i}.step", f"a step from {previous} to {previous + steps_per_epoch} "
                          f"({steps_per_epoch} optimizer steps per epoch)", entry["step"])
        previous = entry["step"]
        metrics = set(entry) - {"epoch", "step", "lr", "train_loss"}
        for key in sorted(metrics):
            if not target.recorded.allows(key):
                raise _refuse(where, f"run.history.{i}.{key}", "only metrics this run records", entry[key])
        if not metrics:
            if target.recorded.splits and (i + 1) % config.eval_every == 0:
                raise _refuse(where, f"run.history.{i}", f"the metrics of {target.recorded.splits}: epoch {i + 1} is "
                              f"evaluated (eval_every={config.eval_every})", _Text("an entry without metrics"))
            continue
        lacking = target.recorded.missing(set(entry))
        if lacking:
            raise _refuse(where, f"run.history.{i}.{lacking}", "a value: every evaluated epoch records it")
        if evaluated_keys is not None and metrics != evaluated_keys:
            raise _refuse(where, f"run.history.{i}", f"the metrics {sorted(evaluated_keys)}, as the other evaluated "
                          f"epochs", _Text(str(sorted(metrics))))
        evaluated_keys = metrics
    steps = math.ceil(batch / accumulation) if last_batch else batch // accumulation
    expected = previous + steps
    if run["global_step"] != expected:
        raise _refuse(where, "run.global_step", f"{expected}: the step of the last finished epoch ({previous}) plus "
                      f"the {steps} optimizer step(s) of run.batch={batch} (grad_accumulation={accumulation})",
                      run["global_step"])
    micro = batch if accumulation > 1 and not last_batch else 0
    if state["accelerator_step"] != micro:
        raise _refuse(where, "accelerator_step", f"{micro} (micro-batches into the current optimizer steps' epoch)",
                      state["accelerator_step"])
    named = _NAME.fullmatch(where.name)
    if named and (int(named[1]), int(named[2])) != (epoch, batch):
        raise _refuse(where, "run.epoch/run.batch", f"the position in the folder's name {where.name}",
                      _Text(f"{epoch}/{batch}"))
    # the early-stopping record, replayed from the history as the loop keeps it
    best_value, best_epoch, bad = None, None, 0
    if state["training"].get("patience") is not None:
        for entry in history:
            if target.monitor in entry:
                value = entry[target.monitor]
                if best_value is None or (value < best_value if target.mode == "min" else value > best_value):
                    best_value, best_epoch, bad = value, entry["epoch"], 0
                else:
                    bad += 1
    for key, value in (("best_epoch", best_epoch), ("best_value", best_value), ("bad_evals", bad)):
        if not _same(run[key], value):
            raise _refuse(where, f"run.{key}", f"{value!r}, from the history's {target.monitor!r} values "
                          f"(mode {target.mode!r}, the checkpoint's training.patience="
                          f"{state['training'].get('patience')!r})", run[key])


def _check_tensor(where: Path, field: str, value: Any, like: torch.Tensor, nonnegative: bool = False) -> None:
    if not isinstance(value, torch.Tensor) or value.shape != like.shape or value.dtype != like.dtype:
        raise _refuse(where, field, _short(like) + " (as its parameter)", value)
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise _refuse(where, field, "finite values", _Text("a tensor with NaN or infinite values"))
    if nonnegative and bool((value < 0).any()):
        raise _refuse(where, field, "values >= 0 (a second moment)", _Text("a tensor with negative values"))


def _check_scalar(where: Path, field: str, value: Any, low: float = -math.inf, high: float = math.inf,
                  integral: bool = False) -> None:
    """A finite number (or 0-d tensor) in [low, high]."""
    number = value
    if isinstance(value, torch.Tensor):
        if value.dim() != 0:
            raise _refuse(where, field, "a number or 0-d tensor", value)
        number = value.item()
    if not _number(number) or not low <= number <= high or (integral and number != int(number)):
        raise _refuse(where, field, f"{'an integral' if integral else 'a finite'} number in [{low}, {high}]", value)


def _check_param_state(where: Path, field: str, optimizer, group: dict, index: int, param: torch.Tensor,
                       flat_size: int, entry: Any, max_step: int) -> None:
    """One parameter's optimizer state: the keys its optimizer writes, tensors shaped like the parameter."""
    if not isinstance(entry, dict):
        raise _refuse(where, field, "a dict of the parameter's optimizer state", entry)

    def keys(required: set, optional: frozenset = frozenset()) -> None:
        for key in sorted(required | set(entry), key=str):
            if key not in entry:
                raise _refuse(where, f"{field}.{key}", f"a value: {type(optimizer).__name__} keeps {sorted(required)}")
            if key not in required and key not in optional:
                raise _refuse(where, f"{field}.{key}", f"only {sorted(required | optional)} "
                              f"({type(optimizer).__name__})", entry[key])

    if isinstance(optimizer, (torch.optim.Adam, torch.optim.AdamW)):
        moments = {"exp_avg", "exp_avg_sq"} | ({"max_exp_avg_sq"} if group.get("amsgrad") else set())
        keys({"step"} | moments)
        _check_scalar(where, f"{field}.step", entry["step"], 0, max_step, integral=True)
        for key in sorted(moments):
            _check_tensor(where, f"{field}.{key}", entry[key], param, nonnegative=key != "exp_avg")
    elif isinstance(optimizer, torch.optim.SGD):
        keys({"momentum_buffer"} if group.get("momentum") else set())
        if "momentum_buffer" in entry:
            _check_tensor(where, f"{field}.momentum_buffer", entry["momentum_buffer"], param)
    elif isinstance(optimizer, torch.optim.LBFGS):
        if index != 0:
            raise _refuse(where, field, "no state: LBFGS keeps its whole state on its first parameter", entry)
        flat = torch.empty(flat_size, dtype=param.dtype, device="meta")
        keys(set(), frozenset({"func_evals", "n_iter", "d", "t", "old_dirs", "old_stps", "ro", "H_diag",
                               "prev_flat_grad", "prev_loss", "al"}))
        for key in ("func_evals", "n_iter"):
            if key in entry and (type(entry[key]) is not int or not 0 <= entry[key] <= MAX_COUNT):
                raise _refuse(where, f"{field}.{key}", "a count >= 0", entry[key])
        for key in ("t", "prev_loss", "H_diag"):
            if key in entry:
                _check_scalar(where, f"{field}.{key}", entry[key])
        for key in ("d", "prev_flat_grad"):
            if key in entry:
                _check_lbfgs_tensor(where, f"{field}.{key}", entry[key], flat)
        history = group.get("history_size", 0)
        lengths = set()
        for key in ("old_dirs", "old_stps", "ro"):
            if key in entry:
                value = entry[key]
                if not isinstance(value, list) or len(value) > history:
                    raise _refuse(where, f"{field}.{key}", f"a list of at most history_size={history} items", value)
                lengths.add(len(value))
                for i, item in enumerate(value):
                    if key == "ro":
                        _check_scalar(where, f"{field}.{key}.{i}", item)
                    else:
                        _check_lbfgs_tensor(where, f"{field}.{key}.{i}", item, flat)
        if len(lengths) > 1:
            raise _refuse(where, f"{field}.old_dirs", "as many old_dirs, old_stps and ro",
                          _Text(f"lengths {sorted(lengths)}"))
        if "al" in entry:
            if not isinstance(entry["al"], list) or len(entry["al"]) != history:
                raise _refuse(where, f"{field}.al", f"a list of history_size={history} items", entry["al"])
            for i, item in enumerate(entry["al"]):
                if item is not None:
                    _check_scalar(where, f"{field}.al.{i}", item)
    else:  # an optimizer the zoo does not know (a model's configure_optimizers): shapes and finite values
        _check_any(where, field, entry, param)


def _check_lbfgs_tensor(where: Path, field: str, value: Any, flat: torch.Tensor) -> None:
    if not isinstance(value, torch.Tensor) or value.shape != flat.shape or value.dtype != flat.dtype:
        raise _refuse(where, field, f"a ({flat.numel()},) {str(flat.dtype).removeprefix('torch.')} tensor "
                      f"(all parameters, flattened)", value)
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        raise _refuse(where, field, "finite values", _Text("a tensor with NaN or infinite values"))


def _check_any(where: Path, field: str, value: Any, param: torch.Tensor) -> None:
    if isinstance(value, torch.Tensor):
        if value.dim() == 0:
            if value.is_floating_point() and not bool(torch.isfinite(value)):
                raise _refuse(where, field, "a finite value", value.item())
        else:
            _check_tensor(where, field, value, param)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_any(where, f"{field}.{key}", item, param)
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_any(where, f"{field}.{i}", item, param)
    elif isinstance(value, float) and not math.isfinite(value):
        raise _refuse(where, field, "a finite number", value)


def _check_optimizer(where: Path, name: str, flat: Any, tensors: _Tensors, optimizer, lr_of: Callable,
                     max_step: int, schedule: str) -> dict:
    field = f"optimizers.{name}"
    fresh = flatten_state(optimizer.state_dict(), {}, "fresh")
    if not isinstance(flat, dict) or set(flat) != {"state", "param_groups"}:
        raise _refuse(where, field, "an optimizer state {'state': ..., 'param_groups': [...]}", flat)
    groups = flat["param_groups"]
    if not isinstance(groups, list) or len(groups) != len(fresh["param_groups"]):
        raise _refuse(where, f"{field}.param_groups", f"{len(fresh['param_groups'])} parameter group(s), as "
                      f"{type(optimizer).__name__} has for this model", groups)
    for i, (saved, expected) in enumerate(zip(groups, fresh["param_groups"])):
        if not isinstance(saved, dict):
            raise _refuse(where, f"{field}.param_groups.{i}", "a dict of hyperparameters", saved)
        for key in sorted(saved.keys() | expected.keys()):
            value, want = saved.get(key, _MISSING), expected.get(key, _MISSING)
            if key == "lr" and want is not _MISSING:
                want = lr_of(i, expected)
                if not (_number(value) and math.isclose(value, want, rel_tol=1e-9, abs_tol=1e-300)):
                    raise _refuse(where, f"{field}.param_groups.{i}.lr", f"{want!r}, what {schedule} give at "
                                  f"this step", value)
            elif not _same(value, want):
                raise _refuse(where, f"{field}.param_groups.{i}.{key}",
                              f"{want!r}, as this run's config gives" if want is not _MISSING else
                              f"no such hyperparameter in {type(optimizer).__name__}", value)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    group_of = [group for group in optimizer.param_groups for _ in group["params"]]
    flat_size = sum(p.numel() for p in params)
    state = flat["state"]
    if not isinstance(state, dict):
        raise _refuse(where, f"{field}.state", "a dict {'__int__:<parameter index>': state}", state)
    resolved = {}
    for key, entry in state.items():
        match = _INDEX_KEY.fullmatch(key)
        if not match or int(match[1]) >= len(params):
            raise _refuse(where, f"{field}.state.{key}", f"a parameter index {INT_KEY}0 to {INT_KEY}{len(params) - 1}")
        index = int(match[1])
        value = tensors.resolve(entry, f"{field}.state.{index}", f"optimizer.{name}.state.{index}")
        _check_param_state(where, f"{field}.state.{index}", optimizer, group_of[index], index, params[index],
                           flat_size, value, max_step)
        resolved[index] = value
    return {"state": resolved, "param_groups": tensors.resolve(groups, f"{field}.param_groups",
                                                               f"optimizer.{name}.param_groups")}


def _check_scheduler(where: Path, name: str, saved: Any, scheduler, factor: Callable, global_step: int,
                     exact: bool) -> dict:
    field = f"schedulers.{name}"
    fresh = scheduler.state_dict()
    if not isinstance(saved, dict) or saved.keys() != fresh.keys():
        raise _refuse(where, field, f"a {type(scheduler).__name__} state with {sorted(fresh)}", saved)
    last = saved["last_epoch"]
    if type(last) is not int or not 0 <= last <= global_step or (exact and last != global_step):
        raise _refuse(where, f"{field}.last_epoch", f"{'' if exact else 'at most '}run.global_step={global_step} "
                      f"(one scheduler step per optimizer step)", last)
    for key in sorted(saved):
        value = saved[key]
        if key == "last_epoch":
            continue
        if key == "_step_count":
            want = last + 1
        elif key == "_last_lr":
            want = [base * factor(last) for base in fresh["base_lrs"]]
            if isinstance(value, list) and len(value) == len(want) and all(
                    _number(v) and math.isclose(v, w, rel_tol=1e-9, abs_tol=1e-300) for v, w in zip(value, want)):
                continue
        else:
            want = fresh[key]
        if not _same(value, want):
            raise _refuse(where, f"{field}.{key}", f"{want!r}, as this run's schedule gives", value)
    return saved


def _check_scaler(where: Path, saved: Any, tensors: _Tensors, scaler) -> dict | None:
    if scaler is None:
        if saved is not None:
            raise _refuse(where, "scaler", "None: this run has no loss scaler (precision is not fp16)", saved)
        return None
    fresh = scaler.state_dict()
    value = tensors.resolve(saved, "scaler", "scaler") if saved is not None else None
    if not isinstance(value, dict) or value.keys() != fresh.keys():
        raise _refuse(where, "scaler", f"the fp16 loss scaler's state {sorted(fresh)}", saved)
    for key in sorted(value):
        if key == "scale":
            _check_scalar(where, "scaler.scale", value[key], low=1e-30)
        elif key == "_growth_tracker":
            interval = fresh.get("growth_interval", 1)
            if type(value[key]) is not int or not 0 <= value[key] < interval:
                raise _refuse(where, "scaler._growth_tracker", f"a count in 0..{interval - 1}", value[key])
        elif not _same(value[key], fresh[key]):
            raise _refuse(where, f"scaler.{key}", f"{fresh[key]!r}, as this run's loss scaler has", value[key])
    return value


def _shares_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.untyped_storage().data_ptr() == b.untyped_storage().data_ptr() and a.shape == b.shape


def _check_weights(where: Path, label: str, weights: dict, model: torch.nn.Module, tied: bool) -> dict:
    """Tensors for every entry of the model's state dict, shaped and typed like it, finite. tied:
    an entry may be missing when it shares storage with one present (safetensors writes tied
    weights once)."""
    expected = model.state_dict()
    unexpected = sorted(set(weights) - set(expected))
    if unexpected:
        raise _refuse(where, f"{label} tensor {unexpected[0]!r}", "only the model's own tensors (this checkpoint "
                      "was written for another model)", weights[unexpected[0]])
    out = {}
    for key, like in expected.items():
        value = weights.get(key)
        if value is None and tied:
            partner = next((k for k in weights if _shares_storage(expected[k], like)), None)
            value = weights.get(partner) if partner is not None else None
        if value is None:
            raise _refuse(where, f"{label} tensor {key!r}", f"{_short(like)}, as the model has")
        if value.shape != like.shape or value.dtype != like.dtype:
            raise _refuse(where, f"{label} tensor {key!r}", f"{_short(like)}, as the model has", value)
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise _refuse(where, f"{label} tensor {key!r}", "finite values",
                          _Text("a tensor with NaN or infinite values"))
        out[key] = value
    return out


def load_resume(path: str | Path, target: ResumeTarget, rank: int) -> Resume:
    """Read and check a checkpoint for the run described by `target` (see the module docstring)."""
    path = Path(path)
    state, raw = read_checkpoint(path)
    try:
        return _load_resume(path, state, raw, target, rank)
    except RecursionError:
        raise CheckpointError(f"checkpoint {path}: {JSON_FILE} is nested too deeply to be a checkpoint state") from None


def _load_resume(path: Path, state: dict, raw: dict, target: ResumeTarget, rank: int) -> Resume:
    saved = _check_identity(path, state, target)
    _check_methods(path, state.get("methods", []), target.methods)
    factor = target.lr_factor(saved)
    _check_position(path, state, target)
    run = state["run"]
    schedule = (f"lr={saved.lr}, schedule={saved.schedule!r}, warmup_steps={saved.warmup_steps} over the "
                f"checkpoint's training.epochs={saved.epochs} and training.max_steps={saved.max_steps}")
    main = next(iter(target.optimizers.values())).param_groups[0]
    if target.exact_steps or not target.schedulers:  # the history's lr: the main group's at each epoch's end
        for i, entry in enumerate(run["history"]):
            want = main["initial_lr"] * factor(entry["step"]) if target.schedulers else main["lr"]
            if not math.isclose(entry["lr"], want, rel_tol=1e-9, abs_tol=1e-300):
                raise _refuse(path, f"run.history.{i}.lr", f"{want!r}, what {schedule} give at step {entry['step']}",
                              entry["lr"])
    _verify(path, MODEL_FILE, state["files"])
    model = _check_weights(path, MODEL_FILE, _load_tensors(path, MODEL_FILE), target.model, tied=True)
    tensors = _Tensors(path, raw)
    if state["schedulers"].keys() != target.schedulers.keys():
        raise _refuse(path, "schedulers", f"states for {sorted(target.schedulers)}, as this run's schedule has",
                      sorted(state["schedulers"]))
    schedulers = {name: _check_scheduler(path, name, state["schedulers"][name], scheduler, factor,
                                         run["global_step"], target.exact_steps)
                  for name, scheduler in target.schedulers.items()}

    def lr_of(name: str) -> Callable:
        def lr(i: int, group: dict) -> float:  # what LambdaLR sets: initial lr times the factor at its step
            if name in schedulers:
                return group["initial_lr"] * factor(schedulers[name]["last_epoch"])
            return group["lr"]
        return lr

    if state["optimizers"].keys() != target.optimizers.keys():
        raise _refuse(path, "optimizers", f"states for {sorted(target.optimizers)}, the optimizers of this model",
                      sorted(state["optimizers"]))
    optimizers = {name: _check_optimizer(path, name, state["optimizers"][name], tensors, optimizer, lr_of(name),
                                         run["global_step"], schedule)
                  for name, optimizer in target.optimizers.items()}
    scaler = _check_scaler(path, state["scaler"], tensors, target.scaler)
    methods = [tensors.resolve(m.get("state", {}), f"methods.{i}.state", method_key(i, method))
               for i, (m, method) in enumerate(zip(state.get("methods", []), target.methods))]
    best_tensors = {k: v for k, v in raw.items() if k.startswith("best.")}
    want_best = run["best_epoch"] is not None and target.training.restore_best
    if best_tensors and not want_best:
        raise _refuse(path, f"{STATE_FILE} tensors 'best.*'", "none: there is no best epoch to restore "
                      f"(run.best_epoch={run['best_epoch']}, restore_best={target.training.restore_best})",
                      _Text(f"{len(best_tensors)} tensors"))
    best = {}
    if want_best:
        best = _check_weights(path, f"{STATE_FILE} best", {k[len("best."):]: v for k, v in best_tensors.items()},
                              target.model, tied=False)
    unused = sorted(set(raw) - tensors.used - set(best_tensors))
    if unused:
        raise _refuse(path, f"{STATE_FILE} tensor {unused[0]!r}", f"only tensors that {JSON_FILE} refers to",
                      raw[unused[0]])
    rng = read_rng(path, rank, state["files"])
    return Resume(run=run, model=model, optimizers=optimizers, schedulers=schedulers, scaler=scaler,
                  accelerator_step=state["accelerator_step"], best=best, rng=rng, methods=methods)


def method_key(index: int, method) -> str:
    """The prefix of one method's tensors in state.safetensors."""
    return f"method.{index}.{method.name or type(method).__name__}"


def _check_methods(where: Path, saved: list, methods: list) -> None:
    """A checkpoint's methods must be this run's: the same methods and options in the same order."""
    described = [m.describe() for m in methods]
    names = [m.get("name") if isinstance(m, dict) else m for m in saved]
    if len(saved) != len(methods) or any(not isinstance(m, dict) or not _same(m.get("name"), d["name"])
                                         or not _same(m.get("config"), d["config"]) for m, d in zip(saved, described)):
        want = [f"{d['name']} {d['config']}" for d in described] or "no methods"
        got = [f"{m.get('name')} {m.get('config')}" if isinstance(m, dict) else m for m in saved] or "no methods"
        raise CheckpointError(f"checkpoint {where} was written by a run with methods {got}, this run has {want}; "
                              f"resume with the same methods and options, in the same order "
                              f"(checkpoint methods: {names})")
