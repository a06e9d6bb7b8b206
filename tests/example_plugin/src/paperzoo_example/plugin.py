"""Hooks of the example plugin. Cheap to import: torch is imported inside the builders."""

from __future__ import annotations

import zoo
from zoo.config import Config, Field


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
    return nn.Sequential(*layers[:-1])


def example_inputs(config: ExampleMLPConfig, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.in_features),)


def size_for_task(values: dict, info) -> dict:
    return {"in_features": info.input_dim, "out_features": info.output_dim}


def build_parabola_task():
    from .task import ParabolaTask

    return ParabolaTask()


@zoo.hookimpl
def zoo_models():
    return [zoo.ModelSpec("example-mlp", ExampleMLPConfig, build_mlp,
                          example_inputs=example_inputs, from_task=size_for_task)]


@zoo.hookimpl
def zoo_tasks():
    return [zoo.TaskSpec("example/parabola", build_parabola_task)]
