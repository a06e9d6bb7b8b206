"""Checkpoints that are never pickled: tensors as safetensors, everything else as JSON, written into
a staging folder that is renamed into place only when complete.

    <out_dir>/checkpoints/epoch-00003-batch-000000/
        model.safetensors       the model's state dict
        state.safetensors       tensors of the optimizer, scheduler and loss-scaler states (and the
                                best weights, for early stopping)
        state.json              position, counters, history, configs, and those states' other values;
                                tensors appear as {"__tensor__": key}
        rng-rank<r>.json        python and numpy RNG states of process r
        rng-rank<r>.safetensors torch RNG states of process r (uint8 tensors)

A folder whose name starts with "." is an unfinished write: it is ignored, and removed by the next run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import ZooError

__all__ = ["CheckpointError", "flatten_state", "unflatten_state", "rng_state", "set_rng_state",
           "begin_checkpoint", "write_rng", "read_rng", "finish_checkpoint", "remove_partial",
           "read_checkpoint", "load_model_weights", "latest_checkpoint", "checkpoint_name", "CHECKPOINTS"]

CHECKPOINTS = "checkpoints"
MODEL_FILE, STATE_FILE, JSON_FILE = "model.safetensors", "state.safetensors", "state.json"
FORMAT = "paperzoo-checkpoint"
TENSOR = "__tensor__"
TUPLE = "__tuple__"
INT_KEY = "__int__:"  # JSON keys are strings: marks an int key (optimizer states use them)


class CheckpointError(ZooError):
    """A checkpoint is missing, unfinished, corrupt, or does not belong to this run."""


def checkpoint_name(epoch: int, batch: int) -> str:
    """Sortable name of the position `batch` batches into epoch `epoch` (0-based)."""
    return f"epoch-{epoch:05d}-batch-{batch:06d}"


def flatten_state(obj: Any, tensors: dict, prefix: str) -> Any:
    """JSON-able copy of a nested state with every tensor moved into `tensors` under a path key."""
    if isinstance(obj, torch.Tensor):
        key = prefix
        tensors[key] = obj.detach().to("cpu").contiguous()
        return {TENSOR: key}
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            if not isinstance(k, (str, int)):
                raise TypeError(f"cannot checkpoint a state with a {type(k).__name__} key {k!r} at {prefix}")
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
    raise TypeError(f"cannot checkpoint a value of type {type(obj).__name__} at {prefix}: "
                    f"only tensors, numbers, strings, lists, tuples and dicts are written (no pickle)")


def unflatten_state(obj: Any, tensors: dict) -> Any:
    if isinstance(obj, dict):
        if set(obj) == {TENSOR}:
            if obj[TENSOR] not in tensors:
                raise CheckpointError(f"tensor {obj[TENSOR]!r} is missing from {STATE_FILE}")
            return tensors[obj[TENSOR]]
        if set(obj) == {TUPLE}:
            return tuple(unflatten_state(v, tensors) for v in obj[TUPLE])
        return {int(k[len(INT_KEY):]) if k.startswith(INT_KEY) else k: unflatten_state(v, tensors)
                for k, v in obj.items()}
    if isinstance(obj, list):
        return [unflatten_state(v, tensors) for v in obj]
    return obj


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
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted((k for k in tensors if k.startswith("rng.cuda.")), key=lambda k: int(k.rsplit(".", 1)[1]))]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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


def read_rng(path: Path, rank: int) -> tuple[dict, dict]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        state = json.loads((path / f"rng-rank{rank}.json").read_text(encoding="utf-8"))
        return state, load_file(str(path / f"rng-rank{rank}.safetensors"))
    except FileNotFoundError:
        raise CheckpointError(f"checkpoint {path} has no RNG state for process {rank}: it was written by "
                              f"fewer processes; resume with the same number of processes") from None
    except (OSError, ValueError, SafetensorError) as exc:
        raise CheckpointError(f"checkpoint {path}: RNG state of process {rank} is corrupt ({exc})") from None


def finish_checkpoint(staging: Path, final: Path, *, model: torch.nn.Module, state: dict, tensors: dict,
                      keep: int) -> Path:
    """Write the model and run state into `staging`, sync it to disk and rename it to `final` (the
    atomic step), then keep only the newest `keep` checkpoints. Main process only."""
    from safetensors.torch import save_file, save_model

    try:
        save_model(model, str(staging / MODEL_FILE), metadata={"format": "pt"})
        save_file(tensors, str(staging / STATE_FILE), metadata={"format": FORMAT})
        (staging / JSON_FILE).write_text(json.dumps({"format": FORMAT, **state}), encoding="utf-8")
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
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("epoch-"))


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of a run directory, or None."""
    found = _complete(Path(out_dir) / CHECKPOINTS)
    return found[-1] if found else None


def read_checkpoint(path: str | Path) -> tuple[dict, dict]:
    """(state JSON, state tensors) of a checkpoint folder; CheckpointError when it is not one or
    cannot be read. The model's weights are read by `load_model_weights`."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"no checkpoint at {path}: expected a folder with {MODEL_FILE}, {STATE_FILE}, {JSON_FILE}")
    missing = [f for f in (MODEL_FILE, STATE_FILE, JSON_FILE) if not (path / f).is_file()]
    if missing:
        raise CheckpointError(f"checkpoint {path} is incomplete: missing {', '.join(missing)}")
    try:
        state = json.loads((path / JSON_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"checkpoint {path}: {JSON_FILE} is unreadable or corrupt ({exc})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"checkpoint {path}: {JSON_FILE} is not a {FORMAT} state")
    try:
        return state, load_file(str(path / STATE_FILE))
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: {STATE_FILE} is corrupt ({exc})") from None


def load_model_weights(model: torch.nn.Module, path: str | Path) -> None:
    """Load a checkpoint's model.safetensors into `model`, strictly (every key, every shape)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    file = Path(path) / MODEL_FILE
    try:
        missing, unexpected = load_model(model, str(file), strict=False)
    except (SafetensorError, OSError, RuntimeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint {path}: {MODEL_FILE} does not load into this model ({exc})") from None
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {path} was written for another model: missing keys {sorted(missing)}, "
                              f"unexpected keys {sorted(unexpected)}")
