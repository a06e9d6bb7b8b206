"""Hooks of the example plugin: a model and its task (the training method is in method.py). Cheap
to import: torch is imported inside the builders."""

from __future__ import annotations

import zoo
from zoo.config import Config, Field

from .method import zoo_methods  # noqa: F401 - the module the entry point names holds every hook


class ExampleMLPConfig(Config):
    in_features: int = Field(1, ge=1, description="input features")
    out_features: int = Field(1, ge=1, description="outputs")
    hidden: list[int] = Field([32, 32], description="hidden layer widths")


def build_mlp(config: ExampleMLPConfig):
    from torch import nn

    widths = [config.in_features, *config.hidden, config.out_features]
    layers = []
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(n_in, n_out), nn.Tanh()]
    return nn.Sequential(*layers[:-1])  # no activation after the output layer


def example_inputs(config: ExampleMLPConfig, batch_size: int) -> tuple:
    """The forward's positional arguments for a batch: what the conformance kit and export feed it."""
    import torch

    return (torch.randn(batch_size, config.in_features),)


def size_for_task(values: dict, info) -> dict:
    """Config values that fit the model to a task; `info` is the task's zoo.tasks.TaskInfo (kind,
    input_shape, input_dim, output_dim, num_classes, extra); `values` the config chosen so far."""
    return {"in_features": info.input_dim, "out_features": info.output_dim}


def build_parabola_task(n_train: int = 256, seed: int = 0):
    """The task's options are this builder's keyword arguments (--task-option n_train=64)."""
    from .task import ParabolaTask

    return ParabolaTask(n_train=n_train, seed=seed)


@zoo.hookimpl
def zoo_models():
    return [zoo.ModelSpec("example-mlp", ExampleMLPConfig, build_mlp,
                          example_inputs=example_inputs, from_task=size_for_task)]


@zoo.hookimpl
def zoo_tasks():
    return [zoo.TaskSpec("example/parabola", build_parabola_task)]
