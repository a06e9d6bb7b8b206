"""`zoo.train` and `zoo.evaluate`: one loop for every model, on Hugging Face Accelerate.

Accelerate chooses the device, runs mixed precision, accumulates gradients, compiles the model
when asked, and shards data and wraps the model in DistributedDataParallel when the script runs
under `accelerate launch` or `torchrun`. This module only drives the epochs: data order, the
standard step (or the model's own `training_step`), evaluation, early stopping, checkpoints,
callbacks and the report.
"""

from __future__ import annotations

import itertools
import math
import os
import sys
import time
import warnings
import weakref
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..config import validate_config
from ..errors import ConfigError, ConfigTypeError, ResourceError, ZooError, did_you_mean
from ..tasks import Task
from . import checkpoint as ckpt
from .callbacks import Callbacks
from .config import RESUME_MAY_CHANGE, TrainConfig
from .data import as_task, batches, make_loader
from .report import write_report
from .step import StepContext

__all__ = ["train", "evaluate", "TrainResult", "NonFiniteLossError", "TaskMismatchError"]

HIGHER_IS_BETTER = ("accuracy", "exact_match", "f1", "auc", "r2", "precision", "recall", "likelihood")


class NonFiniteLossError(ZooError):
    """The loss (or the parameters) became NaN or infinite; training stopped, checkpoints kept."""


class TaskMismatchError(ZooError, ValueError):
    """The model's inputs or outputs do not fit the task's data."""


@dataclass
class TrainResult:
    """What `zoo.train` returns; the model itself is trained in place.

    history: one dict per epoch (epoch, step, lr, train_loss, <split>_<metric> of evaluated splits).
    final: metrics of the `final_splits` (default every split) after training (<split>_<metric>),
        as in metrics.json.
    stopped: "completed", "early_stopping", "max_steps" or "callback".
    """

    history: list[dict]
    final: dict[str, float]
    epochs: int
    steps: int
    stopped: str
    best_epoch: int | None = None
    out_dir: Path | None = None
    checkpoint: Path | None = None
    callback_errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    samples_per_second: float = 0.0


# --- devices and the accelerator -------------------------------------------------------------------

# Accelerate keeps its state per process: the accelerators of the runs now in progress (a callback may
# evaluate; it then shares its run's accelerator instead of resetting that state)
_RUNNING: list = []

_DEVICE_TYPES = ("cuda", "mps", "xpu", "npu", "mlu", "musa", "hpu")


def _available(device_type: str) -> bool:
    if device_type == "mps":
        return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    backend = getattr(torch, device_type, None)
    return bool(backend is not None and getattr(backend, "is_available", lambda: False)())


def _device_type(device: str) -> str:
    """The device type a run will use; ConfigError for unknown or unavailable devices."""
    if device == "auto":
        return next((t for t in _DEVICE_TYPES if _available(t)), "cpu")
    if device == "cpu":
        return "cpu"
    if device not in _DEVICE_TYPES:
        raise ConfigError(f"device must be 'auto', 'cpu' or one of {', '.join(_DEVICE_TYPES)}, got {device!r} "
                          f"(to pick one GPU, set CUDA_VISIBLE_DEVICES)")
    if not _available(device):
        found = ", ".join(t for t in _DEVICE_TYPES if _available(t)) or "none"
        raise ConfigError(f"device {device!r} is not available on this machine (accelerators found: {found}); "
                          f"use device='auto' or 'cpu'")
    return device


def _mixed_precision(precision: str, device_type: str) -> str:
    """Accelerate's mixed_precision value for a requested precision on a device type."""
    if precision == "fp32":
        return "no"
    if precision == "auto":
        if device_type == "cuda":
            return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
        return "bf16" if device_type in ("xpu", "npu", "hpu") else "no"
    if precision == "fp16" and device_type == "cpu":
        raise ConfigError(f"precision='fp16' needs a GPU with loss scaling (cuda, xpu, ...), the device is "
                          f"{device_type}; use precision='bf16' or 'fp32'")
    if precision == "bf16" and device_type == "cuda" and not torch.cuda.is_bf16_supported():
        raise ConfigError("precision='bf16': this GPU does not support bf16; use precision='fp16' or 'auto'")
    return precision


def _check_compile(compile_option) -> None:
    """A compile backend named by a string must be one torch knows (found now, not at the first step)."""
    if isinstance(compile_option, str):
        import torch._dynamo

        known = torch._dynamo.list_backends(exclude_tags=())
        if compile_option not in known:
            raise ConfigError(f"compile={compile_option!r} is not a torch.compile backend; known backends: "
                              f"{', '.join(known)}." + did_you_mean(compile_option, known))


_EVAL_ACCELERATOR: list = []  # (settings, accelerator) of the last evaluate() on one process


def _accelerator(config: TrainConfig, *, for_evaluation: bool = False):
    """A fresh Accelerator for this run (Accelerate keeps its state process-wide; it is reset so
    that runs with other devices or precisions can follow each other in one process).

    for_evaluation: reuse the previous evaluation's accelerator on one process when the settings and
    Accelerate's live state still match (building one costs milliseconds: evaluate() is often called
    on small splits). Nothing is prepared with it, so it holds no references to models or data.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import DataLoaderConfiguration, TorchDynamoPlugin

    device_type = _device_type(config.device)
    mixed = _mixed_precision(config.precision, device_type)
    launched = int(os.environ.get("WORLD_SIZE", "1")) > 1  # torchrun / accelerate launch: keep the process group
    settings = (device_type, mixed)
    if for_evaluation and not launched and _EVAL_ACCELERATOR and _EVAL_ACCELERATOR[0][0] == settings:
        cached = _EVAL_ACCELERATOR[0][1]
        if AcceleratorState._shared_state and cached.mixed_precision == mixed and cached.device.type == device_type \
                and cached.num_processes == 1:
            return cached
    AcceleratorState._reset_state(reset_partial_state=not launched)
    GradientState._reset_state()
    dynamo = None
    if config.compile:
        dynamo = TorchDynamoPlugin(backend="inductor" if config.compile is True else config.compile)
    accelerator = Accelerator(
        cpu=device_type == "cpu", mixed_precision=mixed, gradient_accumulation_steps=config.grad_accumulation,
        dataloader_config=DataLoaderConfiguration(split_batches=True), rng_types=[],
        step_scheduler_with_optimizer=False, dynamo_plugin=dynamo)
    if accelerator.device.type != device_type and not launched:
        raise ConfigError(f"asked for device {config.device!r} ({device_type}) but Accelerate chose "
                          f"{accelerator.device}; check its config (accelerate env)")
    _EVAL_ACCELERATOR[:] = [(settings, accelerator)] if for_evaluation and not launched else []
    return accelerator


# --- pieces of a run ---------------------------------------------------------------------------------


def _model_label(model) -> str:
    identity = getattr(model, "zoo_identity", None)
    return identity.architecture if identity is not None else type(model).__name__


def _shapes(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"{tuple(value.shape)} {str(value.dtype).removeprefix('torch.')}"
    if isinstance(value, (list, tuple)):
        return "(" + ", ".join(_shapes(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_shapes(v)}" for k, v in value.items()) + "}"
    return type(value).__name__


def _allocation_failure(exc: BaseException) -> bool:
    """Whether an exception says that memory ran out (CUDA, the CPU allocator, Python)."""
    if isinstance(exc, (MemoryError, getattr(torch, "OutOfMemoryError", MemoryError))):
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in text or "out of memory" in text.lower())


def _out_of_memory(model, batch_size: int, device, message: str, doing: str) -> ResourceError:
    parameters = sum(p.numel() for p in model.parameters()) if isinstance(model, torch.nn.Module) else 0
    first_line = (message.strip().splitlines() or [""])[0][:300]
    return ResourceError(f"{doing} model {_model_label(model)!r} ({parameters:,} parameters) with batch_size="
                         f"{batch_size} on {device} ran out of memory ({first_line}). Use a smaller batch_size "
                         f"(grad_accumulation keeps the effective batch), precision='bf16', or a smaller model.")


def _mismatch(model, task: Task, batch, problem: str, output=None, *, evaluating: bool = False) -> TaskMismatchError:
    name = _model_label(model)
    try:
        given = f"inputs {_shapes(task.inputs(batch))} and targets {_shapes(task.targets(batch))}"
    except Exception:  # noqa: BLE001 - a batch the task cannot even take apart: say what it is
        given = f"batches {_shapes(batch)}"
    advice = ("Evaluate it on the task it was trained for, or size one for this task" if evaluating
              else "Size the model for the task")
    return TaskMismatchError(
        f"model {name!r} does not fit task {task.name!r} ({task.kind}): {problem}. The task gives {given}"
        + (f"; the model returned {_shapes(output)}" if output is not None else "")
        + f". {advice}, e.g. zoo.create({name!r}, task={task.name!r}).")


def _classes_problem(task: Task, output) -> str | None:
    classes = task.info.num_classes if task.kind in ("classification", "sequence") else None
    if classes and isinstance(output, torch.Tensor) and output.dim() and output.shape[-1] != classes:
        return f"its output has {output.shape[-1]} values per position, the task has {classes} classes"
    return None


def _check_fit(model, task: Task, split, device) -> None:
    """Run the model on two training samples before training, so that a model that does not fit
    the task fails at once, with an error that names both and the shapes involved."""
    if callable(getattr(model, "training_step", None)):
        return  # a model that trains itself reads batches its own way
    loader, _ = make_loader(split, 2, shuffle=False, seed=0)
    from accelerate.utils import send_to_device

    batch = send_to_device(next(iter(loader)), device)
    was_training = model.training
    model.eval()
    output = None
    try:
        with torch.no_grad():
            output = model(*task.inputs(batch))
            problem = _classes_problem(task, output)
            if problem is None:
                task.loss(output, batch)
    except NotImplementedError:
        return  # a task without a loss: only models with training_step can train on it
    except Exception as exc:  # noqa: BLE001 - turned into one clear error below
        if _allocation_failure(exc):
            raise
        problem = f"{type(exc).__name__}: {exc}"
    finally:
        model.train(was_training)
    if problem:
        raise _mismatch(model, task, batch, problem, output)


def _optimizers(model, config: TrainConfig) -> dict[str, torch.optim.Optimizer]:
    if callable(getattr(model, "configure_optimizers", None)):
        found = model.configure_optimizers(config.lr)
        if isinstance(found, torch.optim.Optimizer):
            found = {"main": found}
        if not isinstance(found, dict) or not found or not all(
                isinstance(k, str) and isinstance(v, torch.optim.Optimizer) for k, v in found.items()):
            raise ConfigTypeError(f"{type(model).__name__}.configure_optimizers must return an optimizer or a dict "
                                  f"{{name: optimizer}}, got {found!r}")
        return found
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ConfigError(f"model {_model_label(model)!r} has no trainable parameters")
    if config.optimizer == "adamw":
        opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    elif config.optimizer == "adam":
        opt = torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    elif config.optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    else:  # the KAN paper's optimizer: full LBFGS steps with a strong-Wolfe line search, as pykan
        opt = torch.optim.LBFGS(params, lr=config.lr, history_size=10, line_search_fn="strong_wolfe",
                                tolerance_grad=1e-32, tolerance_change=1e-32)
    return {"main": opt}


def _schedule_factor(config: TrainConfig, total_steps: int):
    warmup, kind = config.warmup_steps, config.schedule

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, (step - warmup) / max(1, total_steps - warmup))
        if kind == "cosine":
            return 0.5 * (1.0 + math.cos(math.pi * progress))
        if kind == "linear":
            return 1.0 - progress
        return 1.0

    return factor


def _total_steps(config: TrainConfig, steps_per_epoch: int) -> int:
    """The schedule's horizon: all optimizer steps of the run, or max_steps."""
    return min(config.max_steps or sys.maxsize, config.epochs * steps_per_epoch)


def _schedulers(optimizers: dict, config: TrainConfig, total_steps: int) -> dict[str, Any]:
    if config.schedule == "constant" and config.warmup_steps == 0:
        return {}
    factor = _schedule_factor(config, total_steps)
    return {name: torch.optim.lr_scheduler.LambdaLR(opt, factor) for name, opt in optimizers.items()}


def _run_directory(out_dir) -> tuple[Path, Path] | None:
    """(out_dir as given, its resolved path), refused when it can never be a run directory: not a
    path, the filesystem root, or an existing file. Nothing is created yet."""
    if out_dir is None:
        return None
    if not isinstance(out_dir, (str, os.PathLike)):
        raise ConfigTypeError(f"out_dir must be a folder path (str or os.PathLike), got {type(out_dir).__name__} "
                              f"{out_dir!r:.80}")
    try:
        path = Path(out_dir).expanduser()
        resolved = path.resolve()
        if resolved.parent == resolved or resolved == _home():
            what = "the filesystem root" if resolved.parent == resolved else "your home directory"
            raise ConfigError(f"out_dir {str(out_dir)!r} is {what}; give a folder of its own for the run, e.g. "
                              f"{resolved / 'runs' / 'my-run'}")
        if resolved.exists() and not resolved.is_dir():
            raise ConfigError(f"out_dir {str(out_dir)!r} is an existing file, not a folder; give a folder for the run")
        blocker = next((p for p in resolved.parents if p.exists()), None)
        if blocker is not None and not blocker.is_dir():
            raise ConfigError(f"cannot write the run's output directory {path}: {blocker} is a file, not a folder")
    except (OSError, RuntimeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"out_dir {str(out_dir)!r:.200} is not a usable folder path ({exc})") from None
    return path, resolved


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, KeyError, OSError):  # no HOME and no password entry
        return None


def _launch_rank() -> int:
    """This process's rank under torchrun / accelerate launch (0 when launched alone); known before
    Accelerate starts, so that only one process of a run takes its locks."""
    rank = os.environ.get("RANK", "0")
    return int(rank) if rank.isdigit() else 0


def _check_owned(path: Path, overwrite: bool) -> None:
    """Refuse to write into a non-empty folder that is neither a zoo run directory nor a zoo repo,
    unless overwrite=True: a typo in out_dir must not scatter a run over someone's files."""
    from ..weights import FORMAT, is_zoo_folder

    def write_probe(name: str) -> bool:  # a run's momentary write test, not a file of someone's
        return name.startswith(".write-test-")

    try:
        if overwrite or not path.is_dir() or is_zoo_folder(path, ignore=write_probe):
            return
        entries = sorted(itertools.islice((n for n in os.listdir(path) if not write_probe(n)), 6))
    except OSError as exc:
        raise ConfigError(f"cannot read out_dir {path}: {exc.strerror or exc}") from None
    shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "")
    raise ConfigError(f"out_dir {path} already holds files that are not a zoo run's ({shown}): it is neither a run "
                      f"directory (checkpoints/, metrics.json) nor a zoo repo (config.json of format {FORMAT!r}). "
                      f"Choose a new or empty folder, or pass overwrite=True (--overwrite) to write the run into it")


def _make_writable(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f".write-test-{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise ZooError(f"cannot write the run's output directory {path}: {exc.strerror or exc}") from None


def _resume_path(resume, out_dir: Path | None) -> Path | None:
    if resume is False or resume is None:
        return None
    if resume is True:
        if out_dir is None:
            raise ConfigError("resume=True continues the run in out_dir; pass out_dir (or resume=<checkpoint folder>)")
        return ckpt.latest_checkpoint(out_dir)  # None: nothing written yet, start afresh
    if not isinstance(resume, (str, os.PathLike)):
        raise ConfigTypeError(f"resume must be True, False, or the path of a checkpoint folder or run directory, "
                              f"got {type(resume).__name__} {resume!r:.80}")
    path = Path(resume)
    try:
        if (path / ckpt.CHECKPOINTS).is_dir():
            found = ckpt.latest_checkpoint(path)
            if found is None:
                raise ckpt.CheckpointError(f"run directory {path} has no complete checkpoint to resume from")
            return found
        exists = path.exists()
    except (OSError, ValueError) as exc:
        raise ckpt.CheckpointError(f"cannot read resume={str(resume)!r:.200} ({exc})") from None
    if not exists:
        raise ckpt.CheckpointError(f"no checkpoint at {path}: give a checkpoint folder, a run directory, or resume=True")
    return path


def _batch_size_of(batch) -> int:
    if isinstance(batch, torch.Tensor):
        return batch.shape[0]
    if isinstance(batch, (list, tuple)) and batch:
        return _batch_size_of(batch[0])
    if isinstance(batch, dict) and batch:
        return _batch_size_of(next(iter(batch.values())))
    return 1


def _scalar(value) -> float:
    return float(value.detach()) if isinstance(value, torch.Tensor) else float(value)


def _metric_values(name: str, value) -> dict[str, float]:
    if isinstance(value, dict):
        return {f"{name}_{k}": _scalar(v) for k, v in value.items()}
    if isinstance(value, torch.Tensor) and value.numel() != 1:
        return {f"{name}_{i}": float(v) for i, v in enumerate(value.flatten())}
    return {name: _scalar(value)}


# --- evaluation ----------------------------------------------------------------------------------------


# metric objects per task, reset between evaluations: building a torchmetrics Metric costs about
# 0.25 ms, a visible share of evaluating a small model (and of every per-epoch validation)
_TASK_METRICS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _reset_metrics(task: Task) -> dict:
    """`task.metrics()`, built once per task object and reset on later calls."""
    try:
        metrics = _TASK_METRICS.get(task)
    except TypeError:  # a task that cannot be a dictionary key (e.g. an eq dataclass)
        return task.metrics()
    if metrics is None:
        metrics = _TASK_METRICS[task] = task.metrics()
    else:
        for metric in metrics.values():
            metric.reset()
    return metrics


def _on_device(model, device: torch.device):
    """model on `device`; a model already there is returned as it is (a no-op `.to` still walks and
    re-assigns every parameter, a fixed cost that shows on small evaluations)."""
    tensors = itertools.chain(model.parameters(), model.buffers())
    return model if all(t.device == device for t in tensors) else model.to(device)


def _evaluate_loader(model, raw_model, task: Task, loader, accelerator, *, check_fit: bool = False) -> dict[str, float]:
    """Loss and metrics of the model over one prepared loader (every process sees all results).
    check_fit: a first batch that the model cannot take or whose output the task cannot score is a
    TaskMismatchError (training checks the fit before it starts instead)."""
    metrics = _reset_metrics(task)
    for metric in metrics.values():
        if metric.device != accelerator.device:  # a no-op move still walks every state: skip it
            metric.to(accelerator.device)
        metric.sync_on_compute = False  # outputs are gathered below: no second sync
    custom = callable(getattr(raw_model, "evaluation_step", None))
    multi = accelerator.num_processes > 1
    amp = accelerator.autocast() if accelerator.mixed_precision != "no" else nullcontext()
    total = torch.zeros((), dtype=torch.float64, device=accelerator.device)
    count, with_loss = 0, not custom
    was_training = raw_model.training
    model.eval()
    try:
        with torch.no_grad(), amp:
            for batch in loader:
                try:
                    output = raw_model.evaluation_step(batch, task) if custom else model(*task.inputs(batch))
                    if check_fit and (problem := _classes_problem(task, output)):
                        raise _mismatch(raw_model, task, batch, problem, output, evaluating=True)
                    if multi:
                        output, batch = accelerator.gather_for_metrics((output, batch))
                    n = _batch_size_of(batch)
                    if with_loss:
                        try:
                            total.add_(task.loss(output, batch).detach(), alpha=n)
                        except NotImplementedError:
                            with_loss = False
                    count += n
                    if metrics:
                        target = task.targets(batch)
                        for metric in metrics.values():
                            metric.update(output, target)
                except Exception as exc:
                    if not check_fit or isinstance(exc, ZooError) or _allocation_failure(exc):
                        raise
                    raise _mismatch(raw_model, task, batch, f"{type(exc).__name__}: {exc}", evaluating=True) from None
                check_fit = False
    finally:
        model.train(was_training)
    results = {"loss": float(total) / max(count, 1)} if with_loss else {}
    for name, metric in metrics.items():
        results.update(_metric_values(name, metric.compute()))
    return results


def _eval_loaders(task: Task, splits: dict, names, config: TrainConfig, accelerator) -> dict:
    loaders = {}
    for name in names:
        if name not in splits:
            raise ConfigError(f"task {task.name!r} has no {name!r} split (it has {sorted(splits)})")
        loaders[name], _ = batches(splits[name], config.batch_size, accelerator, shuffle=False, seed=config.seed,
                                   num_workers=config.num_workers)
    return loaders


def evaluate(model, task, *, split: str = "test", batch_size: int = 256, device: str = "auto",
             precision: str = "fp32", task_options: dict | None = None, loss=None, metrics=None) -> dict[str, float]:
    """Loss and metrics of `model` on one split of `task` (name, Task, arrays, Dataset or DataLoader).

    Returns {"loss": ..., <metric>: ...}. A model's `evaluation_step(batch, task)`, when defined,
    replaces ``model(*task.inputs(batch))`` (and the loss is then not computed).
    Under `accelerate launch` / `torchrun` the split is sharded and the results gathered.
    """
    config = validate_config(TrainConfig, {"batch_size": batch_size, "device": device, "precision": precision},
                             "zoo.evaluate")
    if not isinstance(model, torch.nn.Module):
        raise ConfigTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(split, str):
        raise ConfigTypeError(f"split must be 'train', 'val' or 'test', got {type(split).__name__} {split!r:.80}")
    task = as_task(task, task_options=task_options, loss=loss, metrics=metrics)
    if split != "train" and split not in task.splits() and len(task.splits()) == 1:
        split = "train"  # plain data given for evaluation: its only split
    accelerator = _RUNNING[-1] if _RUNNING else _accelerator(config, for_evaluation=True)
    splits = task.splits()
    raw_model = _on_device(model, accelerator.device)
    # one process: nothing to wrap (the forward runs under the accelerator's autocast below)
    prepared = raw_model if accelerator.num_processes == 1 else accelerator.prepare_model(raw_model, evaluation_mode=True)
    loader = _eval_loaders(task, splits, [split], config, accelerator)[split]
    try:
        return _evaluate_loader(prepared, raw_model, task, loader, accelerator, check_fit=True)
    except (MemoryError, RuntimeError) as exc:
        if not _allocation_failure(exc):
            raise
        failure = str(exc)  # raised below, outside this block, so the failed batch's tensors are freed
    raise _out_of_memory(model, config.batch_size, accelerator.device, failure, "evaluating")


# --- training ------------------------------------------------------------------------------------------


class _Run:
    """The mutable state of one training run, and what a checkpoint restores."""

    def __init__(self):
        self.epoch = 0  # current epoch (0-based)
        self.batch = 0  # batches done in the current epoch
        self.global_step = 0
        self.samples = 0
        self.epoch_loss = 0.0
        self.epoch_batches = 0
        self.history: list[dict] = []
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.bad_evals = 0
        self.seconds = 0.0

    def to_json(self) -> dict:
        return dict(vars(self))

    def load(self, data: dict) -> None:
        """Restore a state that `ckpt.load_resume` checked (it has every field)."""
        for key in vars(self):
            setattr(self, key, data[key])


def _identity_dict(model) -> dict:
    identity = getattr(model, "zoo_identity", None)
    if identity is None:
        return {"architecture": None, "config": None, "plugin": None, "variant": None}
    return {"architecture": identity.architecture, "config": identity.config.to_dict(),
            "plugin": identity.plugin, "variant": identity.variant}


def _monitor(config: TrainConfig, eval_splits: list[str]) -> tuple[str, str]:
    monitor = config.monitor or (f"{eval_splits[0]}_loss" if eval_splits else "train_loss")
    mode = config.mode or ("max" if any(h in monitor for h in HIGHER_IS_BETTER) else "min")
    return monitor, mode


class _Recorded:
    """The history keys a run records: train_loss, and per evaluated split `<split>_loss` (unless the
    model scores itself) and `<split>_<metric>` for the task's metrics (`<split>_<metric>_<key>` for a
    metric whose value is a dict or a vector)."""

    def __init__(self, task: Task, eval_splits: list[str], model):
        scores_itself = callable(getattr(model, "evaluation_step", None))
        names = list(_reset_metrics(task))
        self.splits = list(eval_splits)
        self.pairs = [f"{s}_{m}" for s in eval_splits for m in names]
        # a model that trains itself may be on a task without a loss: then no <split>_loss is recorded
        self.losses = [] if scores_itself else [f"{s}_loss" for s in eval_splits]
        self.needs_loss = not scores_itself and not callable(getattr(model, "training_step", None))
        self.exact = {"train_loss", *self.losses, *self.pairs}
        self.prefixes = tuple(f"{pair}_" for pair in self.pairs)

    def allows(self, key: str) -> bool:
        return key in self.exact or key.startswith(self.prefixes)

    def missing(self, keys: set[str]) -> str | None:
        """The first metric that an evaluated epoch's keys lack, or None."""
        for name in self.losses if self.needs_loss else ():
            if name not in keys:
                return name
        for pair in self.pairs:
            if pair not in keys and not any(k.startswith(f"{pair}_") for k in keys):
                return pair
        return None

    def check_monitor(self, config: TrainConfig, monitor: str, eval_splits: list[str]) -> None:
        if (config.patience is None and config.monitor is None) or self.allows(monitor):
            return
        raise ConfigError(f"monitor={monitor!r}{'' if config.monitor else ' (the default)'} is not a metric this run "
                          f"records: with eval_splits={eval_splits} it records {', '.join(sorted(self.exact))}"
                          + (" (and <name>_<key> for dict-valued metrics)" if self.prefixes else "")
                          + "." + did_you_mean(monitor, self.exact))


def _params_finite(model) -> bool:
    return all(bool(torch.isfinite(p).all()) for p in model.parameters() if p.is_floating_point())


def _progress(config: TrainConfig, accelerator) -> bool:
    if not accelerator.is_main_process:
        return False
    return sys.stderr.isatty() if config.progress is None else config.progress


def train(model, task, *, out_dir=None, resume=False, overwrite: bool = False, callbacks=(),
          task_options: dict | None = None, loss=None, metrics=None, val=None, **options) -> TrainResult:
    """Train `model` on `task`, in place, and return a `TrainResult`.

    model: an nn.Module (a zoo model or any other), or a catalog name, created after seeding and
        sized for the task (``zoo.create(name, task=task)``).
    task: a task name (see ``zoo.list_tasks()``), a `zoo.tasks.Task`, arrays ``(inputs, targets)``,
        a dict of such splits, a torch Dataset of (input, target) pairs, or a DataLoader.
    out_dir: where checkpoints (every epoch, and every `checkpoint_every` steps), metrics.json,
        curves.png and the trained model (zoo.save format, loadable by zoo.load) are written.
        None: nothing is written. The run holds the folder's lock (`zoo.locks`) from start to end: a
        second run into it fails at once with BusyError. A non-empty folder that is neither a run
        directory nor a zoo repo is refused (overwrite=True writes into it anyway), as are the
        filesystem root and an existing file.
    resume: True to continue the run in out_dir from its newest checkpoint (from scratch if it has
        none), or a checkpoint folder / run directory. The checkpoint is checked first (see
        zoo.training.checkpoint); a damaged, edited or foreign one is a CheckpointError. Ends
        bitwise identical, on CPU, to a run that was never interrupted.
    overwrite: start afresh in an out_dir that holds another run's checkpoints (they are deleted);
        without it (and without resume) that is an error, so no run is lost by accident.
    callbacks: objects with methods named like the training hooks (zoo.hookspecs: zoo_train_start,
        zoo_train_batch_end, zoo_train_epoch_end, zoo_train_checkpoint, zoo_train_end).
    task_options: options of a named task (e.g. {"seed": 1}). loss / metrics / val: for plain data,
        the loss ``(output, target) -> scalar``, a ``() -> {name: torchmetrics.Metric}`` factory and
        a validation split.
    options: the hyperparameters of `TrainConfig` (epochs, batch_size, lr, optimizer, schedule,
        device, precision, grad_accumulation, compile, seed, patience, ...).

    A model may define ``training_step(batch, step)`` (and ``configure_optimizers(lr)``) to do its
    own update, see zoo/tasks.py. A NaN or infinite loss stops training with NonFiniteLossError;
    the checkpoints already written are kept.
    """
    from ..locks import exclusive

    if _RUNNING:  # before anything is touched: the running run may be writing into the same out_dir
        raise ConfigError("zoo.train was called while another zoo.train runs in this process (from a "
                          "callback?); Accelerate's state is per process, so runs cannot nest")
    config = validate_config(TrainConfig, options, "zoo.train")
    _mixed_precision(config.precision, _device_type(config.device))  # devices and precisions: found now
    _check_compile(config.compile)
    if not isinstance(overwrite, bool):
        raise ConfigTypeError(f"overwrite must be True or False, got {type(overwrite).__name__} {overwrite!r:.80}")
    where = _run_directory(out_dir)
    if where is None:
        return _train_in(model, task, config, None, resume, overwrite, callbacks, task_options, loss, metrics, val)
    out, resolved = where
    if _launch_rank() != 0:  # the main process holds the lock for the whole launch
        return _train_in(model, task, config, out, resume, overwrite, callbacks, task_options, loss, metrics, val)
    _check_owned(resolved, overwrite)  # read-only: no lock file is made beside a folder that is not the zoo's
    with exclusive(resolved, "run directory"):
        return _train_in(model, task, config, out, resume, overwrite, callbacks, task_options, loss, metrics, val)


def _train_in(model, task, config: TrainConfig, out: Path | None, resume, overwrite: bool, callbacks, task_options,
              loss, metrics, val) -> TrainResult:
    """`train` once its out_dir (if any) is held: set up the data, model and accelerator, then run."""
    from accelerate.utils import set_seed

    resume_from = _resume_path(resume, out)
    replace = out is not None and not resume and ckpt.latest_checkpoint(out) is not None
    if replace and not overwrite:
        raise ConfigError(f"{out} already holds the checkpoints of a run: continue it with resume=True "
                          f"(zoo train --resume), start over with overwrite=True (--overwrite), or choose "
                          f"another output directory")
    hooks = Callbacks(callbacks)
    set_seed(config.seed)
    task = as_task(task, task_options=task_options, loss=loss, metrics=metrics, val=val)
    if isinstance(model, str):
        from ..registry import default_registry

        model = default_registry().create(model, task=task)
    if not isinstance(model, torch.nn.Module):
        raise ConfigTypeError(f"model must be a torch.nn.Module or a catalog name, got {type(model).__name__}")
    plan = _Plan(task, model, config)
    if out is not None and getattr(model, "zoo_identity", None) is not None and os.path.ismount(out):
        raise ConfigError(f"out_dir {out} is a mount point: the trained model is saved with zoo.save, which replaces "
                          f"the run directory as a whole, and a mount point cannot be replaced; use a folder inside "
                          f"it, e.g. {out / 'my-run'}")
    if out is not None:  # the inputs are good: only now is anything written
        _make_writable(out)
        if replace and _launch_rank() == 0:
            import shutil

            shutil.rmtree(out / ckpt.CHECKPOINTS)
    accelerator = _accelerator(config)
    _RUNNING.append(accelerator)
    try:
        return _train(model, task, config, plan, accelerator, hooks, out, resume_from)
    except (MemoryError, RuntimeError) as exc:
        if not _allocation_failure(exc):
            raise
        failure = str(exc)  # raised below, outside this block, so the failed step's tensors are freed
    finally:
        _RUNNING.remove(accelerator)
    raise _out_of_memory(model, config.batch_size, accelerator.device, failure, "training")


class _Plan:
    """What a run evaluates and watches, checked against the task before anything is written: its
    splits, the eval and final splits, and the monitor of early stopping."""

    def __init__(self, task: Task, model, config: TrainConfig):
        self.splits = splits = task.splits()
        if "train" not in splits:
            raise ConfigError(f"task {task.name!r} has no 'train' split (it has {sorted(splits)})")
        self.eval_names = config.eval_splits if config.eval_splits is not None else \
            [s for s in ("val",) if s in splits] or [s for s in ("test",) if s in splits]
        for option, names in (("eval_splits", self.eval_names), ("final_splits", config.final_splits or ())):
            missing = [s for s in names if s not in splits]
            if missing:
                raise ConfigError(f"task {task.name!r} has no {missing[0]!r} split (it has {sorted(splits)}); "
                                  f"{option}={list(names)}")
        self.monitor, self.mode = _monitor(config, self.eval_names)
        self.recorded = _Recorded(task, self.eval_names, model)
        self.recorded.check_monitor(config, self.monitor, self.eval_names)


def _train(model, task: Task, config: TrainConfig, plan: _Plan, accelerator, hooks: Callbacks, out: Path | None,
           resume_from: Path | None) -> TrainResult:
    splits, eval_names, monitor, mode, recorded = plan.splits, plan.eval_names, plan.monitor, plan.mode, plan.recorded
    if config.patience is not None and monitor.startswith("test_"):
        warnings.warn(f"early stopping watches {monitor!r}: the task has no validation split, so the test "
                      f"split chooses the epoch; its final test metrics are then optimistic", stacklevel=4)
    raw_model = model.to(accelerator.device)
    _check_fit(raw_model, task, splits["train"], accelerator.device)
    train_loader, sampler = batches(splits["train"], config.batch_size, accelerator, shuffle=config.shuffle,
                                    seed=config.seed, drop_last=config.drop_last, num_workers=config.num_workers,
                                    grad_accumulation=config.grad_accumulation)
    if sampler is None:
        warnings.warn("training from a DataLoader: its own sampler sets the data order, so a resume inside an "
                      "epoch is exact only if that order is seeded", stacklevel=4)
    steps_per_epoch = math.ceil(len(train_loader) / config.grad_accumulation)
    total_steps = _total_steps(config, steps_per_epoch)
    optimizers = _optimizers(raw_model, config)
    schedulers = _schedulers(optimizers, config, total_steps)
    run = _Run()
    override = callable(getattr(raw_model, "training_step", None))
    resumed = None
    if resume_from is not None:
        resumed = ckpt.load_resume(resume_from, ckpt.ResumeTarget(
            task=task.name, identity=_identity_dict(raw_model), training=config, may_change=RESUME_MAY_CHANGE,
            batches_per_epoch=len(train_loader), model=raw_model, optimizers=optimizers, schedulers=schedulers,
            lr_factor=lambda saved: _schedule_factor(saved, _total_steps(saved, steps_per_epoch)),
            scaler=accelerator.scaler, monitor=monitor, mode=mode, recorded=recorded,
            exact_steps=not override and accelerator.scaler is None), accelerator.process_index)
        # everything was checked: only now is anything of the checkpoint applied
        raw_model.load_state_dict(resumed.model)
        run.load(resumed.run)
        for name, opt in optimizers.items():
            opt.load_state_dict(resumed.optimizers[name])
        for name, sched in schedulers.items():
            sched.load_state_dict(resumed.schedulers[name])
    # a model that trains itself is not wrapped in DDP (it calls itself in its own way); StepContext
    # averages its gradients across processes instead
    model = raw_model if override else accelerator.prepare_model(raw_model)
    optimizers = {name: accelerator.prepare_optimizer(opt) for name, opt in optimizers.items()}
    eval_loaders = _eval_loaders(task, splits, eval_names, config, accelerator)
    best = {}
    if resumed is not None:
        if resumed.scaler is not None:
            accelerator.scaler.load_state_dict(resumed.scaler)
        accelerator.step = resumed.accelerator_step
        best = resumed.best
    context = StepContext(task=task, model=raw_model, optimizers=optimizers, schedulers=schedulers,
                          accelerator=accelerator, config=config, out_dir=out, history=run.history,
                          _average_gradients=override)
    root = out / ckpt.CHECKPOINTS if out is not None else None
    if root is not None and accelerator.is_main_process:
        ckpt.remove_partial(root)
    last_checkpoint = resume_from

    def save_checkpoint() -> Path:
        name = ckpt.checkpoint_name(run.epoch, run.batch)
        if not _params_finite(raw_model):
            raise NonFiniteLossError(f"the parameters of {_model_label(raw_model)!r} became NaN or infinite by step "
                                     f"{run.global_step}; this state was not checkpointed. "
                                     + (f"Last good checkpoint: {last_checkpoint}" if last_checkpoint else "No checkpoint was written."))
        final = root / name
        try:
            _write_checkpoint(name, final)
        except OSError as exc:  # a full disk or a vanished folder: say which checkpoint, keep the last good one
            raise ckpt.CheckpointError(f"cannot write checkpoint {final}: {exc.strerror or exc}. "
                                       + (f"Last good checkpoint: {last_checkpoint}" if last_checkpoint
                                          else "No checkpoint was written.")) from None
        accelerator.wait_for_everyone()
        hooks.call("zoo_train_checkpoint", run=context, path=final)
        return final

    def _write_checkpoint(name: str, final: Path) -> None:
        staging = ckpt.begin_checkpoint(root, name) if accelerator.is_main_process else root / f".{name}.partial"
        accelerator.wait_for_everyone()
        ckpt.write_rng(staging, accelerator.process_index)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            tensors: dict = {}
            state = {
                "task": task.name, **{k: v for k, v in _identity_dict(raw_model).items() if k in ("architecture", "config")},
                "training": config.to_dict(), "run": run.to_json(), "accelerator_step": accelerator.step,
                "optimizers": {n: ckpt.flatten_state(o.state_dict(), tensors, f"optimizer.{n}") for n, o in optimizers.items()},
                "schedulers": {n: ckpt.flatten_state(s.state_dict(), tensors, f"scheduler.{n}") for n, s in schedulers.items()},
                "scaler": (ckpt.flatten_state(accelerator.scaler.state_dict(), tensors, "scaler")
                           if accelerator.scaler is not None else None),
            }
            tensors.update({f"best.{k}": v for k, v in best.items()})
            ckpt.finish_checkpoint(staging, final, model=raw_model, state=state, tensors=tensors,
                                   keep=config.keep_checkpoints)

    def stop_on_nonfinite(value: float) -> None:
        where = f"epoch {run.epoch + 1}, batch {run.batch + 1} (step {run.global_step})"
        kept = f"Last good checkpoint: {last_checkpoint}" if last_checkpoint else "No checkpoint had been written"
        if out is not None and accelerator.is_main_process:
            write_report(out, _report(stopped=f"non-finite loss ({value}) at {where}", final={}))
        raise NonFiniteLossError(f"the training loss of {_model_label(raw_model)!r} on task {task.name!r} became "
                                 f"{value} at {where}; training stopped. {kept}. Try a lower lr, clip_grad_norm, "
                                 f"or precision='fp32'.")

    def _report(stopped: str, final: dict) -> dict:
        return {
            "task": task.name, "task_kind": task.kind, **_identity_dict(raw_model),
            "parameters": sum(p.numel() for p in raw_model.parameters()),
            "training": config.to_dict(), "epochs": len(run.history), "steps": run.global_step,
            "history": run.history, "final": final, "stopped": stopped, "best_epoch": run.best_epoch,
            "monitor": monitor if config.patience is not None else None,
            "device": str(accelerator.device), "processes": accelerator.num_processes,
            "mixed_precision": accelerator.mixed_precision, "seconds": run.seconds,
            "samples_per_second": run.samples / run.seconds if run.seconds > 0 else None,
        }

    show = _progress(config, accelerator)
    amp = accelerator.autocast if accelerator.mixed_precision != "no" else nullcontext
    accumulate = config.grad_accumulation > 1
    multi = accelerator.num_processes > 1
    main_opt = next(iter(optimizers.values()))
    main_sched = next(iter(schedulers.values()), None)
    lbfgs = isinstance(main_opt.optimizer, torch.optim.LBFGS)
    # Accelerate's optimizer wrapper looks up optional packages and signatures on every step; with no
    # loss scaler and no XLA its step is exactly this, done directly (it matters for small models)
    from accelerate.utils import DistributedType

    direct = accelerator.scaler is None and accelerator.distributed_type != DistributedType.XLA
    inner_opt = main_opt.optimizer
    want_batch_hook = hooks.wants("zoo_train_batch_end")
    # a run resumed at its step limit stops there instead of taking one more step
    stopped = "max_steps" if config.max_steps is not None and run.global_step >= config.max_steps else "completed"
    if resumed is not None:
        ckpt.set_rng_state(*resumed.rng)  # last: nothing after this may draw random numbers before training
    hooks.call("zoo_train_start", run=context)
    started = time.perf_counter() - run.seconds
    model.train()
    while run.epoch < config.epochs and stopped == "completed":
        if sampler is not None:
            sampler.set_epoch(run.epoch)
            sampler.skip = run.batch
        train_loader.set_epoch(run.epoch)
        context.epoch = run.epoch
        bar = None
        if show:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(train_loader), initial=run.batch, desc=f"epoch {run.epoch + 1}/{config.epochs}",
                       leave=False, dynamic_ncols=True)
        source = train_loader
        if sampler is None and run.batch:  # a user DataLoader resumed inside an epoch
            source = accelerator.skip_first_batches(train_loader, run.batch)
        for batch in source:
            context.batch_index = run.batch
            with accelerator.accumulate(model) if accumulate else nullcontext():
                if override:
                    with amp():
                        logs = model.training_step(batch, context)
                    if not isinstance(logs, dict) or "loss" not in logs:
                        raise ConfigTypeError(f"{type(raw_model).__name__}.training_step must return a dict with "
                                              f"'loss', got {type(logs).__name__}")
                    loss = logs["loss"]
                elif lbfgs:
                    def closure():
                        main_opt.zero_grad(set_to_none=True)
                        with amp():
                            value = task.loss(model(*task.inputs(batch)), batch)
                        accelerator.backward(value)
                        return value

                    loss = main_opt.optimizer.step(closure)  # the loss before the step
                    main_opt.zero_grad(set_to_none=True)
                    if main_sched is not None:
                        main_sched.step()
                else:
                    with amp():
                        loss = task.loss(model(*task.inputs(batch)), batch)
                loss_value = float(accelerator.reduce(loss.detach(), "mean")) if multi else _scalar(loss)
                if not math.isfinite(loss_value):
                    if bar is not None:
                        bar.close()
                    stop_on_nonfinite(loss_value)
                if not override and not lbfgs:
                    accelerator.backward(loss)
                    if config.clip_grad_norm is not None and accelerator.sync_gradients:
                        accelerator.clip_grad_norm_(model.parameters(), config.clip_grad_norm)
                    if direct:
                        if accelerator.sync_gradients:
                            inner_opt.step()
                            inner_opt.zero_grad(set_to_none=True)
                            if main_sched is not None:
                                main_sched.step()
                    else:
                        main_opt.step()
                        if main_sched is not None and accelerator.sync_gradients and not main_opt.step_was_skipped:
                            main_sched.step()
                        main_opt.zero_grad(set_to_none=True)
            run.batch += 1
            run.epoch_loss += loss_value
            run.epoch_batches += 1
            run.samples += _batch_size_of(batch) * accelerator.num_processes
            synced = accelerator.sync_gradients
            if synced:
                run.global_step += 1
                context.global_step = run.global_step
            if bar is not None:
                bar.update(1)
                if run.batch % 10 == 0:
                    bar.set_postfix(loss=f"{loss_value:.4g}", refresh=False)
            if want_batch_hook:
                logs_out = {"loss": loss_value}
                if override:
                    logs_out.update({k: _scalar(v) for k, v in logs.items() if k != "loss"})
                hooks.call("zoo_train_batch_end", run=context, logs=logs_out)
            if config.max_steps is not None and run.global_step >= config.max_steps:
                stopped = "max_steps"
            elif context.should_stop:
                stopped = "callback"
            if root is not None and synced and config.checkpoint_every and run.global_step % config.checkpoint_every == 0 \
                    and stopped == "completed":
                run.seconds = time.perf_counter() - started
                last_checkpoint = save_checkpoint()
            if stopped != "completed":
                break
        if bar is not None:
            bar.close()
        # --- end of epoch: evaluate, record, stop early, checkpoint
        if not _params_finite(raw_model):
            stop_on_nonfinite(float("nan"))
        entry = {"epoch": run.epoch + 1, "step": run.global_step,
                 "lr": float(main_opt.param_groups[0]["lr"]),
                 "train_loss": run.epoch_loss / max(run.epoch_batches, 1)}
        if (run.epoch + 1) % config.eval_every == 0 or run.epoch + 1 == config.epochs or stopped != "completed":
            for split, loader in eval_loaders.items():
                entry.update({f"{split}_{k}": v for k, v in _evaluate_loader(model, raw_model, task, loader, accelerator).items()})
            if config.patience is not None:
                if monitor not in entry:  # e.g. <split>_loss of a task whose loss is not implemented
                    raise ConfigError(f"monitor {monitor!r} is not among the metrics {sorted(entry)}; "
                                      f"set monitor= to one of them")
                value = entry[monitor]
                better = run.best_value is None or (value < run.best_value if mode == "min" else value > run.best_value)
                if better:
                    run.best_value, run.best_epoch, run.bad_evals = value, run.epoch + 1, 0
                    if config.restore_best:
                        best = {k: v.detach().to("cpu", copy=True) for k, v in raw_model.state_dict().items()}
                else:
                    run.bad_evals += 1
                    if run.bad_evals >= config.patience and stopped == "completed":
                        stopped = "early_stopping"
        run.history.append(entry)
        if show:
            from tqdm.auto import tqdm

            tqdm.write(f"epoch {entry['epoch']}: " + "  ".join(f"{k}={v:.4g}" for k, v in entry.items()
                                                               if k not in ("epoch", "step")))
        hooks.call("zoo_train_epoch_end", run=context, metrics=entry)
        if context.should_stop and stopped == "completed":
            stopped = "callback"
        run.epoch += 1
        run.batch = 0
        run.epoch_loss, run.epoch_batches = 0.0, 0
        # a new epoch starts a new accumulation (a stopped epoch leaves Accelerate's micro-batch count
        # where it stopped; a checkpoint here must resume at the epoch's start)
        accelerator.step = 0
        run.seconds = time.perf_counter() - started
        if root is not None:
            last_checkpoint = save_checkpoint()
    run.seconds = time.perf_counter() - started
    if config.restore_best and best and run.best_epoch != len(run.history):
        raw_model.load_state_dict(best)  # however the run ended: patience means model selection on `monitor`
    final = {}
    final_names = config.final_splits if config.final_splits is not None else \
        [s for s in ("train", "val", "test") if s in splits]
    final_loaders = _eval_loaders(task, splits, final_names, config, accelerator)
    for split, loader in final_loaders.items():
        final.update({f"{split}_{k}": v for k, v in _evaluate_loader(model, raw_model, task, loader, accelerator).items()})
    result = TrainResult(history=run.history, final=final, epochs=len(run.history), steps=run.global_step,
                         stopped=stopped, best_epoch=run.best_epoch, out_dir=out, checkpoint=last_checkpoint,
                         callback_errors=hooks.errors, seconds=run.seconds,
                         samples_per_second=run.samples / run.seconds if run.seconds > 0 else 0.0)
    if out is not None and accelerator.is_main_process:
        write_report(out, _report(stopped, final))
        _save_model(raw_model, out)
    accelerator.wait_for_everyone()
    hooks.call("zoo_train_end", run=context, result=result)
    return result


def _save_model(model, out: Path) -> None:
    """The trained model in out_dir: a zoo repo (zoo.load(out_dir)) for zoo models, else safetensors."""
    if getattr(model, "zoo_identity", None) is not None:
        from ..weights import save

        save(model, out, run=out)
    else:
        from safetensors.torch import save_model

        save_model(model, str(out / "model.safetensors"), metadata={"format": "pt"})
