"""PaperZoo plugin for CAMEL, "Interpretable Meta-Learning of Physical Systems" (Blanke & Lelarge,
ICLR 2024): the model `camel-affine-meta`, affine in per-environment weights over shared learned
features, adapted to a new environment by closed-form least squares, and the multi-environment
tasks `camel/pendulum` and `camel/oscillator` (acceleration from state, physical parameters varying
across environments; data from `zoo_plugins.tasks.dynamics`).

Departures (details in model.py and DOC.md): training is the multi-task fit of the features and the
training environments' weights by Adam; the reproduction's systems and sizes are CPU-sized. Importing
this module is cheap; torch is imported when a model or task is built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import CAMEL

    return CAMEL(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return torch.randn(batch_size, config.input_dim), torch.arange(batch_size) % config.environments


def _from_task(values: dict, info) -> dict:
    return {"input_dim": info.input_dim, "output_dim": info.output_dim, "environments": info.extra["environments"]}


def _task(name: str, system: str, **options):
    from .task import MultiEnvironmentTask

    return MultiEnvironmentTask(**{"system": system, "name": name, **options})


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import CamelConfig

    return [ModelSpec("camel-affine-meta", CamelConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("camel/pendulum", partial(_task, "camel/pendulum", "pendulum")),
            TaskSpec("camel/oscillator", partial(_task, "camel/oscillator", "damped-oscillator"))]
