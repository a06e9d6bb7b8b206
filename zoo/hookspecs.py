"""The plugin contract: pluggy hook specifications and the records plugins return.

A plugin is a module named by an entry point in the group ``paperzoo.plugins``. It implements
any of the hooks below with ``@zoo.hookimpl``. Every name it returns must also be declared in its
distribution's catalog (entry point group ``paperzoo.catalogs``), which is what listing reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pluggy

__all__ = [
    "PROJECT",
    "PLUGIN_GROUP",
    "CATALOG_GROUP",
    "hookspec",
    "hookimpl",
    "ModelSpec",
    "TaskSpec",
    "MethodSpec",
    "zoo_models",
    "zoo_tasks",
    "zoo_methods",
    "TRAINING_HOOKS",
    "zoo_train_start",
    "zoo_train_batch_end",
    "zoo_train_epoch_end",
    "zoo_train_checkpoint",
    "zoo_train_end",
]

PROJECT = "paperzoo"
PLUGIN_GROUP = "paperzoo.plugins"
CATALOG_GROUP = "paperzoo.catalogs"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@dataclass(frozen=True)
class ModelSpec:
    """How to build one catalog model.

    name: the catalog name (e.g. ``"kan"``).
    config: the architecture's typed config class (a subclass of ``zoo.Config``).
    build: ``config -> torch.nn.Module``; usually the model class itself.
    example_inputs: ``(config, batch_size) -> tuple`` of positional forward arguments, used by the
        conformance checks and benchmarks.
    from_task: ``(config_values: dict, info: zoo.tasks.TaskInfo) -> dict`` of config values that
        size the model for a task (input/output widths, number of classes); optional.
        `config_values` holds what is chosen so far (variant, weights, explicit overrides).
    count_params: ``config -> int``, the parameter and buffer elements `build(config)` will hold;
        optional. Without it the zoo finds the count by building the model on PyTorch's meta
        device (shapes only, no memory) before the real build, and refuses a model over the size
        limit (`zoo.create(max_params=...)`); give it when the build cannot run on the meta device,
        or to skip that extra build where it costs more than a closed form (see the plugin guide).
        `zoo.testing.assert_conforms` checks that it matches the built model.
    """

    name: str
    config: type
    build: Callable[[Any], Any]
    example_inputs: Callable[[Any, int], tuple] | None = None
    from_task: Callable[[dict, Any], dict] | None = None
    count_params: Callable[[Any], int] | None = None


@dataclass(frozen=True)
class TaskSpec:
    """How to build one catalog task: ``build(**options)`` returns a ``zoo.tasks.Task``."""

    name: str
    build: Callable[..., Any]


@dataclass(frozen=True)
class MethodSpec:
    """How to build one training method (pruning, distillation, learning rules...)."""

    name: str
    build: Callable[..., Any]


@hookspec
def zoo_models() -> list[ModelSpec]:
    """Return the models this plugin provides. Import heavy modules (torch) inside the hook or in
    the builders, so that loading the plugin stays cheap."""


@hookspec
def zoo_tasks() -> list[TaskSpec]:
    """Return the tasks (data, loss, metrics) this plugin provides."""


@hookspec
def zoo_methods() -> list[MethodSpec]:
    """Return the training methods this plugin provides."""


# --- training callbacks ------------------------------------------------------------------------------
# Implemented by the callback objects passed to ``zoo.train(..., callbacks=[...])`` (methods with these
# names, decorated with @zoo.hookimpl or not). Each takes any subset of the arguments shown. `run` is
# the run's `zoo.training.StepContext`; set ``run.should_stop = True`` to end training after this
# batch or epoch. A callback that raises is reported (a warning, and `TrainResult.callback_errors`)
# and training goes on.


@hookspec
def zoo_train_start(run) -> None:
    """Training is about to start (or resume: ``run.epoch``/``run.global_step`` say where)."""


@hookspec
def zoo_train_batch_end(run, logs: dict) -> None:
    """A training batch is done; `logs` holds its values as floats (at least "loss")."""


@hookspec
def zoo_train_epoch_end(run, metrics: dict) -> None:
    """An epoch is done; `metrics` is its history entry (train loss, evaluated splits' metrics)."""


@hookspec
def zoo_train_checkpoint(run, path) -> None:
    """A checkpoint was written (complete) to the folder `path`."""


@hookspec
def zoo_train_end(run, result) -> None:
    """Training ended (completed, stopped early, or reached max_steps); `result` is the TrainResult."""


TRAINING_HOOKS = ("zoo_train_start", "zoo_train_batch_end", "zoo_train_epoch_end", "zoo_train_checkpoint",
                  "zoo_train_end")
