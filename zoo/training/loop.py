"""`zoo.train` and `zoo.evaluate`: one loop for every model, on Hugging Face Accelerate.

Accelerate chooses the device, runs mixed precision, accumulates gradients, compiles the model
when asked, and shards data and wraps the model in DistributedDataParallel when the script runs
under `accelerate launch` or `torchrun`. This module only drives the epochs: data order, the
standard step (or the model's own `training_step`), evaluation, early stopping, checkpoints,
callbacks and the report.
"""

from __future__ import annotations

import contextlib
import itertools
import json
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
from .config import BUILTIN_OPTIMIZERS, RESUME_MAY_CHANGE, TrainConfig
from .data import as_task, batches, make_loader
from .method import apply_structural, check_methods, optimizer_method, overrides, resolve_methods, task_terms
from .report import write_report
from .run_file import RUN_FILE, resolved_settings, write_run_file
from .step import StepContext
from .trackers import LOGS, Trackers, check_trackers

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


def _recorded_options(task) -> dict | None:
    """The options a task was built with, as a run records them (None for a task no registered builder
    made, such as arrays, or options that are not JSON: neither is replayed from a file)."""
    options = getattr(task, "build_options", None)
    if options is None:
        return None
    try:
        json.dumps(options)
    except (TypeError, ValueError):
        return None
    return dict(options)


def _accelerator(config: TrainConfig, *, for_evaluation: bool = False, out: Path | None = None,
                 unused_parameters: bool = False):
    """A fresh Accelerator for this run (Accelerate keeps its state process-wide; it is reset so
    that runs with other devices or precisions can follow each other in one process).

    for_evaluation: reuse the previous evaluation's accelerator on one process when the settings and
    Accelerate's live state still match (building one costs milliseconds: evaluate() is often called
    on small splits). Nothing is prepared with it, so it holds no references to models or data.
    out: the run directory, where the trackers of config.log_with write (under out/logs).
    unused_parameters: the model declares parameters that may get no gradient on a batch
    (zoo_gradient_exempt, see zoo.testing): DistributedDataParallel must then look for them.
    """
    from accelerate import Accelerator
    from accelerate.state import AcceleratorState, GradientState
    from accelerate.utils import (DataLoaderConfiguration, DistributedDataParallelKwargs, ProjectConfiguration,
                                  TorchDynamoPlugin)

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
    trackers = {}
    if config.log_with and out is not None:
        trackers = dict(log_with=list(config.log_with),
                        project_config=ProjectConfiguration(project_dir=str(out), logging_dir=str(out / LOGS)))
    dynamo = None
    if config.compile:
        dynamo = TorchDynamoPlugin(backend="inductor" if config.compile is True else config.compile)
    accelerator = Accelerator(
        cpu=device_type == "cpu", mixed_precision=mixed, gradient_accumulation_steps=config.grad_accumulation,
        dataloader_config=DataLoaderConfiguration(split_batches=True), rng_types=[],
        step_scheduler_with_optimizer=False, dynamo_plugin=dynamo,
        kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)] if unused_parameters else None,
        **trackers)
    if accelerator.device.type != device_type and not launched:
        raise ConfigError(f"asked for device {config.device!r} ({device_type}) but Accelerate chose "
                          f"{accelerator.device}; check its config (accelerate env)")
    _warn_unsharded(accelerator)
    _EVAL_ACCELERATOR[:] = [(settings, accelerator)] if for_evaluation and not launched else []
    return accelerator


def _warn_unsharded(accelerator) -> None:
    """`accelerate launch --use_fsdp` (ACCELERATE_USE_FSDP) on CPU processes or on one process: Accelerate
    shards only across accelerators and otherwise trains whole replicas without a word; say so."""
    from accelerate.utils import DistributedType

    asked = os.environ.get("ACCELERATE_USE_FSDP", "false").lower() in ("true", "1", "yes")
    if asked and accelerator.distributed_type != DistributedType.FSDP:
        processes = accelerator.num_processes
        mode = "one process" if processes == 1 else f"{processes} processes as {accelerator.distributed_type.value}"
        warnings.warn(f"FSDP was asked for (ACCELERATE_USE_FSDP) but Accelerate runs {mode} on "
                      f"{accelerator.device.type}: it shards only across several accelerator processes, so every "
                      f"process holds the whole model", RuntimeWarning, stacklevel=4)


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


def _optimizers(model, config: TrainConfig, methods=()) -> dict[str, torch.optim.Optimizer]:
    """The run's optimizers by name: the model's own (configure_optimizers), a method's (slot
    "optimizer"), or config.optimizer over the model's trainable parameters and the methods' own."""
    owned = [p for m in methods for p in m.parameters()]
    builder = next((m for m in methods if "optimizer" in m.slots), None)
    if callable(getattr(model, "configure_optimizers", None)):
        if builder is not None:
            raise ConfigError(f"model {_model_label(model)!r} builds its own optimizers (configure_optimizers); "
                              f"method {builder.name!r} cannot give it another")
        if owned:
            raise ConfigError(f"model {_model_label(model)!r} builds its own optimizers (configure_optimizers), so the "
                              f"parameters of methods {[m.name for m in methods if m.parameters()]} have no optimizer")
        ignored = {name: getattr(config, name) for name in ("optimizer", "weight_decay", "momentum")
                   if getattr(config, name) != TrainConfig.model_fields[name].default}
        if ignored:
            raise ConfigError(f"model {_model_label(model)!r} builds its own optimizers (configure_optimizers), so "
                              f"{', '.join(f'{k}={v!r}' for k, v in ignored.items())} would be ignored; leave "
                              f"{'them' if len(ignored) > 1 else 'it'} at the default (only lr reaches the model)")
        found = model.configure_optimizers(config.lr)
        if isinstance(found, torch.optim.Optimizer):
            found = {"main": found}
        if not isinstance(found, dict) or not found or not all(
                isinstance(k, str) and isinstance(v, torch.optim.Optimizer) for k, v in found.items()):
            raise ConfigTypeError(f"{type(model).__name__}.configure_optimizers must return an optimizer or a dict "
                                  f"{{name: optimizer}}, got {found!r}")
        return found
    own = [p for p in model.parameters() if p.requires_grad]
    if not own and not owned:
        raise ConfigError(f"model {_model_label(model)!r} has no trainable parameters")
    if builder is not None:
        optimizer = builder.build_optimizer(own + owned, config)
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ConfigTypeError(f"method {builder.name!r}: build_optimizer must return a torch.optim.Optimizer, "
                                  f"got {type(optimizer).__name__}")
        return {"main": optimizer}
    params = own
    if owned:  # the methods' own tensors (learned loss weights, regressors): a group without weight decay
        if config.optimizer == "lbfgs":
            raise ConfigError(f"optimizer='lbfgs' takes one group of parameters; methods "
                              f"{[m.name for m in methods if m.parameters()]} bring parameters of their own")
        params = [{"params": own}, {"params": owned, "weight_decay": 0.0}]
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
             precision: str = "fp32", task_options: dict | None = None, loss=None, metrics=None,
             input_key: str | None = None, target_key: str | None = None) -> dict[str, float]:
    """Loss and metrics of `model` on one split of `task` (name, Task, arrays, Dataset or DataLoader).

    Returns {"loss": ..., <metric>: ...}. A model's `evaluation_step(batch, task)`, when defined,
    replaces ``model(*task.inputs(batch))`` (and the loss is then not computed). input_key /
    target_key: the keys of data whose samples are dicts, as in `train`.
    Under `accelerate launch` / `torchrun` the split is sharded and the results gathered.
    """
    config = validate_config(TrainConfig, {"batch_size": batch_size, "device": device, "precision": precision},
                             "zoo.evaluate")
    if not isinstance(model, torch.nn.Module):
        raise ConfigTypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(split, str):
        raise ConfigTypeError(f"split must be 'train', 'val' or 'test', got {type(split).__name__} {split!r:.80}")
    task = as_task(task, task_options=task_options, loss=loss, metrics=metrics, input_key=input_key,
                   target_key=target_key)
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


def train(model, task, *, methods=None, out_dir=None, resume=False, overwrite: bool = False, callbacks=(),
          task_options: dict | None = None, loss=None, metrics=None, val=None, input_key: str | None = None,
          target_key: str | None = None, **options) -> TrainResult:
    """Train `model` on `task`, in place, and return a `TrainResult`.

    model: an nn.Module (a zoo model or any other), or a catalog name, created after seeding and
        sized for the task (``zoo.create(name, task=task)``).
    task: a task name (see ``zoo.list_tasks()``), a `zoo.tasks.Task`, arrays ``(inputs, targets)``,
        a dict of such splits, a torch Dataset of (input, target) pairs or of dicts, or a DataLoader.
    input_key / target_key: for data whose samples (or batches) are dicts, the keys of the model's
        input and of the target; unnamed, the first pair present among `zoo.training.data.DICT_KEYS`.
    methods: training methods acting on this run, in order (see ``zoo.list_methods()``): names,
        ``(name, options)`` pairs or ``zoo.method(name, **options)`` objects. Each is checked against
        the model and task before training; methods that conflict are refused. Structural ones
        (quantized layers, pruning masks, companion heads) stay on the model and are saved with it.
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
        device, precision, grad_accumulation, compile, seed, patience, ...). log_with: experiment
        trackers (tensorboard, mlflow) that receive the training loss every `log_every` optimizer
        steps and each epoch's metrics and the final ones, with the step; they write into out_dir.

    A model may define ``training_step(batch, step)`` (and ``configure_optimizers(lr)``) to do its
    own update, see zoo/tasks.py. A NaN or infinite loss stops training with NonFiniteLossError;
    the checkpoints already written are kept.
    """
    from ..locks import exclusive

    if _RUNNING:  # before anything is touched: the running run may be writing into the same out_dir
        raise ConfigError("zoo.train was called while another zoo.train runs in this process (from a "
                          "callback?); Accelerate's state is per process, so runs cannot nest")
    config = validate_config(TrainConfig, options, "zoo.train")
    methods = resolve_methods(methods)
    if config.optimizer not in BUILTIN_OPTIMIZERS:
        methods = resolve_methods([optimizer_method(config.optimizer), *methods])
    _mixed_precision(config.precision, _device_type(config.device))  # devices and precisions: found now
    _check_compile(config.compile)
    check_trackers(config.log_with, out_dir)
    if not isinstance(overwrite, bool):
        raise ConfigTypeError(f"overwrite must be True or False, got {type(overwrite).__name__} {overwrite!r:.80}")
    keys = {"input_key": input_key, "target_key": target_key}
    where = _run_directory(out_dir)
    if where is None:
        return _train_in(model, task, config, methods, None, resume, overwrite, callbacks, task_options, loss, metrics,
                         val, keys)
    out, resolved = where
    if _launch_rank() != 0:  # the main process holds the lock for the whole launch
        return _train_in(model, task, config, methods, out, resume, overwrite, callbacks, task_options, loss, metrics,
                         val, keys)
    _check_owned(resolved, overwrite)  # read-only: no lock file is made beside a folder that is not the zoo's
    with exclusive(resolved, "run directory"):
        return _train_in(model, task, config, methods, out, resume, overwrite, callbacks, task_options, loss, metrics,
                         val, keys)


def _record_run_file(out: Path, model, task, config: TrainConfig, methods: list) -> None:
    """out/run.yaml with the run's resolved settings (before any method reshapes the model); a run
    that cannot be written as a file (objects among its options) leaves none, not a stale one."""
    settings = resolved_settings(model, task, config, methods, _recorded_options(task))
    if settings is not None:
        write_run_file(out, settings)
    else:
        (out / RUN_FILE).unlink(missing_ok=True)


def _train_in(model, task, config: TrainConfig, methods: list, out: Path | None, resume, overwrite: bool, callbacks,
              task_options, loss, metrics, val, keys: dict) -> TrainResult:
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
    task = as_task(task, task_options=task_options, loss=loss, metrics=metrics, val=val, **keys)
    if isinstance(model, str):
        from ..registry import default_registry

        model = default_registry().create(model, task=task)
    if not isinstance(model, torch.nn.Module):
        raise ConfigTypeError(f"model must be a torch.nn.Module or a catalog name, got {type(model).__name__}")
    if methods:
        check_methods(methods, model, task, config)
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
        if _launch_rank() == 0:
            _record_run_file(out, model, task, config, methods)
    apply_structural(model, methods)
    accelerator = _accelerator(config, out=out, unused_parameters=bool(getattr(model, "zoo_gradient_exempt", None)))
    _RUNNING.append(accelerator)
    trackers = None
    try:
        trackers = Trackers(accelerator, config.log_with, out, config.to_dict()) if out is not None else None
        return _Trainer(model, task, config, plan, accelerator, hooks, out, resume_from, methods, trackers).run()
    except (MemoryError, RuntimeError) as exc:
        if not _allocation_failure(exc):
            raise
        failure = str(exc)  # raised below, outside this block, so the failed step's tensors are freed
    finally:
        _RUNNING.remove(accelerator)
        if trackers is not None:
            trackers.close()
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


class _Trainer:
    """One training run, from the model on its device to the TrainResult.

    Its pieces, in the order they run: `__init__` builds the data, the methods' state, the optimizers
    and schedules and applies a checkpoint to resume from; `run` drives the epochs; `_epoch` feeds
    batches to `_train_batch`, which takes one of four steps (the model's or a method's own
    `training_step`, LBFGS's closure, the standard step, or the standard step with methods acting in
    it); `_end_epoch` evaluates, stops early and checkpoints; `_finish` evaluates the final splits and
    writes the report and the model.
    """

    def __init__(self, model, task: Task, config: TrainConfig, plan: _Plan, accelerator, hooks: Callbacks,
                 out: Path | None, resume_from: Path | None, methods: list, trackers: Trackers | None = None):
        self.task, self.config, self.plan, self.accelerator, self.hooks, self.out = task, config, plan, accelerator, hooks, out
        self.trackers = trackers if trackers is not None and trackers.names else None
        self.window_loss, self.window_batches = 0.0, 0  # the training loss since it was last sent to the trackers
        self.methods = methods
        if config.patience is not None and plan.monitor.startswith("test_"):
            warnings.warn(f"early stopping watches {plan.monitor!r}: the task has no validation split, so the test "
                          f"split chooses the epoch; its final test metrics are then optimistic", stacklevel=3)
        self.raw_model = raw_model = model.to(accelerator.device)
        _check_fit(raw_model, task, plan.splits["train"], accelerator.device)
        self.train_loader, self.sampler = batches(
            plan.splits["train"], config.batch_size, accelerator, shuffle=config.shuffle, seed=config.seed,
            drop_last=config.drop_last, num_workers=config.num_workers, grad_accumulation=config.grad_accumulation)
        if self.sampler is None and out is not None:  # without a run directory there is nothing to resume
            warnings.warn("training from a DataLoader: its own sampler sets the data order, so a resume inside an "
                          "epoch is exact only if that order is seeded", stacklevel=4)
        self.rule = next((m for m in methods if "update-rule" in m.slots), None)
        # a model (or method) that trains itself is not wrapped in DDP (it calls itself in its own way);
        # StepContext averages its gradients across processes instead
        self.override = self.rule is not None or callable(getattr(raw_model, "training_step", None))
        self.run_state = run = _Run()
        self.context = StepContext(task=task, model=raw_model, optimizers={}, schedulers={}, accelerator=accelerator,
                                   config=config, out_dir=out, history=run.history,
                                   _average_gradients=self.override)
        for method in methods:
            method.setup(self.context)
        steps_per_epoch = math.ceil(len(self.train_loader) / config.grad_accumulation)
        optimizers = _optimizers(raw_model, config, methods)
        self.schedulers = _schedulers(optimizers, config, _total_steps(config, steps_per_epoch))
        self.resumed = None
        if resume_from is not None:
            self.resumed = self._load_checkpoint(resume_from, optimizers, steps_per_epoch)
        self.model = raw_model if self.override else accelerator.prepare_model(raw_model)
        self.optimizers = {name: accelerator.prepare_optimizer(opt) for name, opt in optimizers.items()}
        self.context.optimizers, self.context.schedulers = self.optimizers, self.schedulers
        self.eval_loaders = _eval_loaders(task, plan.splits, plan.eval_names, config, accelerator)
        self.best = {}
        if self.resumed is not None:
            if self.resumed.scaler is not None:
                accelerator.scaler.load_state_dict(self.resumed.scaler)
            accelerator.step = self.resumed.accelerator_step
            self.best = self.resumed.best
        self.root = out / ckpt.CHECKPOINTS if out is not None else None
        if self.root is not None and accelerator.is_main_process:
            ckpt.remove_partial(self.root)
        self.last_checkpoint = resume_from
        self._step_setup()

    def _load_checkpoint(self, path: Path, optimizers: dict, steps_per_epoch: int):
        """Check the checkpoint against this run, then apply it (model, position, optimizers,
        schedules, methods); the loss scaler, best weights and RNG are applied later."""
        raw_model, config, plan = self.raw_model, self.config, self.plan
        resumed = ckpt.load_resume(path, ckpt.ResumeTarget(
            task=self.task.name, identity=_identity_dict(raw_model), training=config, may_change=RESUME_MAY_CHANGE,
            batches_per_epoch=len(self.train_loader), model=raw_model, optimizers=optimizers,
            schedulers=self.schedulers,
            lr_factor=lambda saved: _schedule_factor(saved, _total_steps(saved, steps_per_epoch)),
            scaler=self.accelerator.scaler, monitor=plan.monitor, mode=plan.mode, recorded=plan.recorded,
            exact_steps=not self.override and self.accelerator.scaler is None, methods=self.methods),
            self.accelerator.process_index)
        # everything was checked: only now is anything of the checkpoint applied
        raw_model.load_state_dict(resumed.model)
        self.run_state.load(resumed.run)
        for name, opt in optimizers.items():
            opt.load_state_dict(resumed.optimizers[name])
        for name, sched in self.schedulers.items():
            sched.load_state_dict(resumed.schedulers[name])
        for method, state in zip(self.methods, resumed.methods):
            method.load_state_dict(state)
        return resumed

    def _step_setup(self) -> None:
        """What every step reads, found once: the step to take and the methods acting in it."""
        accelerator, config = self.accelerator, self.config
        self.amp = accelerator.autocast if accelerator.mixed_precision != "no" else nullcontext
        self.accumulate = config.grad_accumulation > 1
        self.multi = accelerator.num_processes > 1
        self.main_opt = next(iter(self.optimizers.values()))
        self.main_sched = next(iter(self.schedulers.values()), None)
        self.lbfgs = isinstance(self.main_opt.optimizer, torch.optim.LBFGS)
        # Accelerate's optimizer wrapper looks up optional packages and signatures on every step; with no
        # loss scaler and no XLA its step is exactly this, done directly (it matters for small models)
        from accelerate.utils import DistributedType

        self.direct = accelerator.scaler is None and accelerator.distributed_type != DistributedType.XLA
        self.inner_opt = self.main_opt.optimizer
        self.want_batch_hook = self.hooks.wants("zoo_train_batch_end")
        methods = self.methods
        self.batch_methods = [m for m in methods if overrides(m, "transform_batch")]
        self.loss_methods = [m for m in methods if overrides(m, "loss")]
        self.combiner = next((m for m in methods if "loss-combiner" in m.slots), None)
        self.gradient_methods = [m for m in reversed(methods) if overrides(m, "after_backward")]
        self.step_methods = [m for m in reversed(methods) if overrides(m, "after_step")]
        self.with_methods = bool(self.batch_methods or self.loss_methods or self.combiner or self.gradient_methods
                                 or self.step_methods)

    # --- the run --------------------------------------------------------------------------------------

    def run(self) -> TrainResult:
        run, config, context = self.run_state, self.config, self.context
        self.show = _progress(config, self.accelerator)
        # a run resumed at its step limit stops there instead of taking one more step
        self.stopped = "max_steps" if config.max_steps is not None and run.global_step >= config.max_steps else "completed"
        if self.resumed is not None:
            ckpt.set_rng_state(*self.resumed.rng)  # last: nothing after this may draw random numbers before training
        if self.trackers is not None:
            self.trackers.start()  # only now: a run refused while it was set up leaves no tracker run behind
        self.hooks.call("zoo_train_start", run=context)
        self.started = time.perf_counter() - run.seconds
        self.model.train()
        try:
            while run.epoch < config.epochs and self.stopped == "completed":
                self._epoch()
                self._end_epoch()
        except BaseException:  # a failed or killed run still lets each method remove its hooks
            for method in reversed(self.methods):
                with contextlib.suppress(Exception):
                    method.end(context)
            raise
        run.seconds = time.perf_counter() - self.started
        for method in reversed(self.methods):
            method.end(context)
        return self._finish()

    def _epoch(self) -> None:
        """The training batches of one epoch (from where a resumed run stopped inside it)."""
        run, config, context, accelerator = self.run_state, self.config, self.context, self.accelerator
        if self.sampler is not None:
            self.sampler.set_epoch(run.epoch)
            self.sampler.skip = run.batch
        self.train_loader.set_epoch(run.epoch)
        context.epoch = run.epoch
        context.global_step = run.global_step  # a resumed run's methods see the restored step at once
        bar = None
        if self.show:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(self.train_loader), initial=run.batch, desc=f"epoch {run.epoch + 1}/{config.epochs}",
                       leave=False, dynamic_ncols=True)
        source = self.train_loader
        if self.sampler is None and run.batch:  # a user DataLoader resumed inside an epoch
            source = accelerator.skip_first_batches(self.train_loader, run.batch)
        try:
            for batch in source:
                context.batch_index = run.batch
                with accelerator.accumulate(self.model) if self.accumulate else nullcontext():
                    loss_value, logs = self._train_batch(batch)
                run.batch += 1
                run.epoch_loss += loss_value
                run.epoch_batches += 1
                run.samples += _batch_size_of(batch) * accelerator.num_processes
                synced = accelerator.sync_gradients
                if synced:
                    run.global_step += 1
                    context.global_step = run.global_step
                if self.trackers is not None:
                    self._track_step_loss(loss_value, synced)
                if bar is not None:
                    bar.update(1)
                    if run.batch % 10 == 0:
                        bar.set_postfix(loss=f"{loss_value:.4g}", refresh=False)
                if self.want_batch_hook:
                    logs_out = {"loss": loss_value}
                    if logs:
                        logs_out.update({k: _scalar(v) for k, v in logs.items() if k != "loss"})
                    self.hooks.call("zoo_train_batch_end", run=context, logs=logs_out)
                if config.max_steps is not None and run.global_step >= config.max_steps:
                    self.stopped = "max_steps"
                elif context.should_stop:
                    self.stopped = "callback"
                if self.root is not None and synced and config.checkpoint_every \
                        and run.global_step % config.checkpoint_every == 0 and self.stopped == "completed":
                    run.seconds = time.perf_counter() - self.started
                    self.last_checkpoint = self._save_checkpoint()
                if self.stopped != "completed":
                    break
        finally:
            if bar is not None:
                bar.close()

    def _track_step_loss(self, loss_value: float, synced: bool) -> None:
        """Send the mean training loss of the last `log_every` optimizer steps to the trackers."""
        self.window_loss += loss_value
        self.window_batches += 1
        if synced and self.run_state.global_step % self.config.log_every == 0:
            self.trackers.log({"train_step_loss": self.window_loss / self.window_batches},
                              step=self.run_state.global_step)
            self.window_loss, self.window_batches = 0.0, 0

    # --- one batch -----------------------------------------------------------------------------------

    def _train_batch(self, batch) -> tuple[float, dict | None]:
        """One micro-batch: (its loss as a float, extra values to log or None)."""
        logs = None
        if self.override:
            loss, logs = self._own_step(batch)
        elif self.lbfgs:
            loss = self._lbfgs_step(batch)
        elif self.with_methods:
            loss, logs = self._method_step(batch)
        else:
            with self.amp():
                loss = self.task.loss(self.model(*self.task.inputs(batch)), batch)
        loss_value = float(self.accelerator.reduce(loss.detach(), "mean")) if self.multi else _scalar(loss)
        if not math.isfinite(loss_value):
            self._stop_on_nonfinite(loss_value)
        if not self.override and not self.lbfgs:
            self._update(loss)
        elif self.override and self.step_methods and self.accelerator.sync_gradients:
            for method in self.step_methods:
                method.after_step(self.context)
        return loss_value, logs

    def _own_step(self, batch):
        """The update of a model (or an update-rule method) that trains itself."""
        owner = self.rule if self.rule is not None else self.model
        with self.amp():
            logs = owner.training_step(batch, self.context)
        if not isinstance(logs, dict) or "loss" not in logs:
            who = type(owner).__name__ if self.rule is not None else type(self.raw_model).__name__
            raise ConfigTypeError(f"{who}.training_step must return a dict with 'loss', got {type(logs).__name__}")
        return logs["loss"], logs

    def _lbfgs_step(self, batch):
        """LBFGS re-evaluates the loss inside its step; returns the loss before the step."""
        main_opt, task, model = self.main_opt, self.task, self.model

        def closure():
            main_opt.zero_grad(set_to_none=True)
            with self.amp():
                value = task.loss(model(*task.inputs(batch)), batch)
            self.accelerator.backward(value)
            return value

        loss = main_opt.optimizer.step(closure)
        main_opt.zero_grad(set_to_none=True)
        if self.main_sched is not None:
            self.main_sched.step()
        return loss

    def _method_step(self, batch):
        """The forward pass of the standard step with methods acting in it: they transform the batch,
        then add, reweight or drop named loss terms, which a combiner (or a sum) makes the loss."""
        context, task = self.context, self.task
        for method in self.batch_methods:
            batch = method.transform_batch(batch, context)
        with self.amp():
            output = self.model(*task.inputs(batch))
            terms = task_terms(task, output, batch)
            for method in self.loss_methods:
                terms = method.loss(terms, output, batch, context)
            if self.combiner is not None:
                loss = self.combiner.combine(terms, context)
            elif not terms:
                raise ConfigError(f"methods {[m.name for m in self.loss_methods]} left no loss term to train on")
            else:
                values = iter(terms.values())
                loss = next(values)
                for value in values:
                    loss = loss + value
        logs = {f"loss/{k}": v.detach() for k, v in terms.items()} if self.want_batch_hook else None
        return loss, logs

    def _update(self, loss) -> None:
        """Backward, the methods' gradient and parameter events, clipping, the optimizer and schedule."""
        accelerator, config = self.accelerator, self.config
        accelerator.backward(loss)
        for method in self.gradient_methods:
            method.after_backward(self.context)
        if config.clip_grad_norm is not None and accelerator.sync_gradients:
            accelerator.clip_grad_norm_(self.model.parameters(), config.clip_grad_norm)
        if self.direct:
            if accelerator.sync_gradients:
                self.inner_opt.step()
                self.inner_opt.zero_grad(set_to_none=True)
                if self.main_sched is not None:
                    self.main_sched.step()
        else:
            self.main_opt.step()
            if self.main_sched is not None and accelerator.sync_gradients and not self.main_opt.step_was_skipped:
                self.main_sched.step()
            self.main_opt.zero_grad(set_to_none=True)
        if self.step_methods and accelerator.sync_gradients:
            for method in self.step_methods:
                method.after_step(self.context)

    # --- end of an epoch -----------------------------------------------------------------------------

    def _end_epoch(self) -> None:
        """Evaluate, record, watch for early stopping, checkpoint."""
        run, config, context = self.run_state, self.config, self.context
        if not _params_finite(self.raw_model):
            self._stop_on_nonfinite(float("nan"))
        entry = {"epoch": run.epoch + 1, "step": run.global_step,
                 "lr": float(self.main_opt.param_groups[0]["lr"]),
                 "train_loss": run.epoch_loss / max(run.epoch_batches, 1)}
        if (run.epoch + 1) % config.eval_every == 0 or run.epoch + 1 == config.epochs or self.stopped != "completed":
            for split, loader in self.eval_loaders.items():
                entry.update({f"{split}_{k}": v for k, v in _evaluate_loader(self.model, self.raw_model, self.task,
                                                                              loader, self.accelerator).items()})
            if config.patience is not None:
                self._watch(entry)
        run.history.append(entry)
        if self.trackers is not None:
            self.trackers.log({k: v for k, v in entry.items() if k != "step"}, step=entry["step"])
        if self.show:
            from tqdm.auto import tqdm

            tqdm.write(f"epoch {entry['epoch']}: " + "  ".join(f"{k}={v:.4g}" for k, v in entry.items()
                                                               if k not in ("epoch", "step")))
        for method in self.methods:
            method.epoch_end(context, entry)
        self.hooks.call("zoo_train_epoch_end", run=context, metrics=entry)
        if context.should_stop and self.stopped == "completed":
            self.stopped = "callback"
        run.epoch += 1
        run.batch = 0
        run.epoch_loss, run.epoch_batches = 0.0, 0
        # a new epoch starts a new accumulation (a stopped epoch leaves Accelerate's micro-batch count
        # where it stopped; a checkpoint here must resume at the epoch's start)
        self.accelerator.step = 0
        run.seconds = time.perf_counter() - self.started
        if self.root is not None:
            self.last_checkpoint = self._save_checkpoint()

    def _watch(self, entry: dict) -> None:
        """Early stopping on the monitored metric; keeps the best weights when asked to restore them."""
        run, monitor = self.run_state, self.plan.monitor
        if monitor not in entry:  # e.g. <split>_loss of a task whose loss is not implemented
            raise ConfigError(f"monitor {monitor!r} is not among the metrics {sorted(entry)}; set monitor= to one of them")
        value = entry[monitor]
        better = run.best_value is None or (value < run.best_value if self.plan.mode == "min" else value > run.best_value)
        if better:
            run.best_value, run.best_epoch, run.bad_evals = value, run.epoch + 1, 0
            if self.config.restore_best:
                self.best = {k: v.detach().to("cpu", copy=True) for k, v in self.raw_model.state_dict().items()}
        else:
            run.bad_evals += 1
            if run.bad_evals >= self.config.patience and self.stopped == "completed":
                self.stopped = "early_stopping"

    # --- checkpoints and failures ----------------------------------------------------------------------

    def _save_checkpoint(self) -> Path:
        run = self.run_state
        name = ckpt.checkpoint_name(run.epoch, run.batch)
        if not _params_finite(self.raw_model):
            raise NonFiniteLossError(f"the parameters of {_model_label(self.raw_model)!r} became NaN or infinite by "
                                     f"step {run.global_step}; this state was not checkpointed. " + self._kept())
        final = self.root / name
        try:
            self._write_checkpoint(name, final)
        except OSError as exc:  # a full disk or a vanished folder: say which checkpoint, keep the last good one
            raise ckpt.CheckpointError(f"cannot write checkpoint {final}: {exc.strerror or exc}. "
                                       + self._kept()) from None
        self.accelerator.wait_for_everyone()
        self.hooks.call("zoo_train_checkpoint", run=self.context, path=final)
        return final

    def _kept(self) -> str:
        return f"Last good checkpoint: {self.last_checkpoint}" if self.last_checkpoint else "No checkpoint was written."

    def _write_checkpoint(self, name: str, final: Path) -> None:
        accelerator, raw_model = self.accelerator, self.raw_model
        staging = ckpt.begin_checkpoint(self.root, name) if accelerator.is_main_process else self.root / f".{name}.partial"
        accelerator.wait_for_everyone()
        ckpt.write_rng(staging, accelerator.process_index)
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            tensors: dict = {}
            state = {
                "task": self.task.name,
                **{k: v for k, v in _identity_dict(raw_model).items() if k in ("architecture", "config")},
                "training": self.config.to_dict(), "run": self.run_state.to_json(),
                "accelerator_step": accelerator.step,
                "optimizers": {n: ckpt.flatten_state(o.state_dict(), tensors, f"optimizer.{n}")
                               for n, o in self.optimizers.items()},
                "schedulers": {n: ckpt.flatten_state(s.state_dict(), tensors, f"scheduler.{n}")
                               for n, s in self.schedulers.items()},
                "scaler": (ckpt.flatten_state(accelerator.scaler.state_dict(), tensors, "scaler")
                           if accelerator.scaler is not None else None),
            }
            if self.methods:
                state["methods"] = [{**m.describe(), "state": ckpt.flatten_state(m.state_dict(), tensors,
                                                                                 ckpt.method_key(i, m))}
                                    for i, m in enumerate(self.methods)]
            tensors.update({f"best.{k}": v for k, v in self.best.items()})
            ckpt.finish_checkpoint(staging, final, model=raw_model, state=state, tensors=tensors,
                                   keep=self.config.keep_checkpoints)

    def _stop_on_nonfinite(self, value: float) -> None:
        run = self.run_state
        where = f"epoch {run.epoch + 1}, batch {run.batch + 1} (step {run.global_step})"
        kept = f"Last good checkpoint: {self.last_checkpoint}" if self.last_checkpoint else "No checkpoint had been written"
        if self.out is not None and self.accelerator.is_main_process:
            write_report(self.out, self._report(stopped=f"non-finite loss ({value}) at {where}", final={}))
        raise NonFiniteLossError(f"the training loss of {_model_label(self.raw_model)!r} on task {self.task.name!r} "
                                 f"became {value} at {where}; training stopped. {kept}. Try a lower lr, "
                                 f"clip_grad_norm, or precision='fp32'.")

    # --- the end ------------------------------------------------------------------------------------------

    def _report(self, stopped: str, final: dict) -> dict:
        run, raw_model, accelerator = self.run_state, self.raw_model, self.accelerator
        report = {
            "task": self.task.name, "task_options": _recorded_options(self.task), "task_kind": self.task.kind,
            **_identity_dict(raw_model),
            "parameters": sum(p.numel() for p in raw_model.parameters()),
            "training": self.config.to_dict(), "epochs": len(run.history), "steps": run.global_step,
            "history": run.history, "final": final, "stopped": stopped, "best_epoch": run.best_epoch,
            "monitor": self.plan.monitor if self.config.patience is not None else None,
            "device": str(accelerator.device), "processes": accelerator.num_processes,
            "mixed_precision": accelerator.mixed_precision, "seconds": run.seconds,
            "samples_per_second": run.samples / run.seconds if run.seconds > 0 else None,
        }
        if self.methods:
            report["methods"] = [m.describe() for m in self.methods]
        return report

    def _finish(self) -> TrainResult:
        run, config, raw_model = self.run_state, self.config, self.raw_model
        if config.restore_best and self.best and run.best_epoch != len(run.history):
            raw_model.load_state_dict(self.best)  # however the run ended: patience means model selection on `monitor`
        final = {}
        final_names = config.final_splits if config.final_splits is not None else \
            [s for s in ("train", "val", "test") if s in self.plan.splits]
        final_loaders = _eval_loaders(self.task, self.plan.splits, final_names, config, self.accelerator)
        for split, loader in final_loaders.items():
            final.update({f"{split}_{k}": v for k, v in _evaluate_loader(self.model, raw_model, self.task, loader,
                                                                          self.accelerator).items()})
        result = TrainResult(history=run.history, final=final, epochs=len(run.history), steps=run.global_step,
                             stopped=self.stopped, best_epoch=run.best_epoch, out_dir=self.out,
                             checkpoint=self.last_checkpoint, callback_errors=self.hooks.errors, seconds=run.seconds,
                             samples_per_second=run.samples / run.seconds if run.seconds > 0 else 0.0)
        if self.trackers is not None:
            if final:
                self.trackers.log({f"final_{k}": v for k, v in final.items()}, step=run.global_step)
            self.trackers.close()  # flushed and closed before zoo.save swaps the run directory
        if self.out is not None and self.accelerator.is_main_process:
            write_report(self.out, self._report(self.stopped, final))
            _save_model(raw_model, self.out)
        self.accelerator.wait_for_everyone()
        self.hooks.call("zoo_train_end", run=self.context, result=result)
        return result


def _save_model(model, out: Path) -> None:
    """The trained model in out_dir: a zoo repo (zoo.load(out_dir)) for zoo models, else safetensors."""
    if getattr(model, "zoo_identity", None) is not None:
        from ..weights import save

        save(model, out, run=out)
    else:
        from safetensors.torch import save_model

        save_model(model, str(out / "model.safetensors"), metadata={"format": "pt"})
