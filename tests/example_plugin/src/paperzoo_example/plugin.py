"""Hooks of the example plugin: a model, a task and a training method. Cheap to import: torch is
imported inside the builders and the method's events."""

from __future__ import annotations

import zoo
from zoo.config import Config, Field
from zoo.training.method import Method, MethodConfig


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


class L2SPConfig(MethodConfig):
    alpha: float = Field(0.01, ge=0, description="weight of the penalty (alpha / 2) * ||w - w0||^2")


class L2SP(Method):
    """L2-SP (Li, Grandvalet & Davoine, "Explicit Inductive Bias for Transfer Learning with
    Convolutional Networks", arXiv:1802.01483): an L2 penalty toward the weights the run started
    from, instead of toward zero."""

    name = "example-l2-sp"
    Config = L2SPConfig

    def setup(self, run):
        self.start = {n: p.detach().clone() for n, p in run.model.named_parameters() if p.requires_grad}

    def loss(self, terms, output, batch, run):
        params = dict(run.model.named_parameters())
        distance = sum(((params[n] - w0) ** 2).sum() for n, w0 in self.start.items())
        return {**terms, "l2-sp": 0.5 * self.config.alpha * distance}

    def state_dict(self):
        return {"start": self.start}

    def load_state_dict(self, state):
        for n, w0 in state["start"].items():
            self.start[n].copy_(w0)


@zoo.hookimpl
def zoo_methods():
    return [zoo.MethodSpec("example-l2-sp", L2SP)]
