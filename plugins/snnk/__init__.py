"""PaperZoo plugin for Scalable Neural Network Kernels (Arijit Sehanobish, Krzysztof Choromanski,
Yunfan Zhao, Avinava Dubey & Valerii Likhosherstov, ICLR 2024, arXiv:2310.13225), and the generated
regression task `snnk/teacher` (targets of a random one-hidden-layer network on 32 inputs).

An SNNK layer replaces a feed-forward layer x -> f(W x + b) by phi(x)^T Psi(W, b): the input goes
through a fixed random feature map phi (the paper's universal random features, URFs), the weights
through Psi, and the two meet in a dot product. Trained directly, the m x out matrix Psi(W, b) is
the layer's only parameter, fewer than W's when m < d.

Departures (details in model.py and DOC.md): the URF instantiations with closed forms here are
f = exp, cos and sin (Gaussian positive features for the input, complex-argument identity for the
weights); the paper's adapters and bundling of deep networks are not built. Importing this module
is cheap; torch is imported when a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import SNNKNet

    return SNNKNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.input_dim),)


def _from_task(values: dict, info) -> dict:
    return {"input_dim": info.input_dim, "output_dim": info.output_dim}


def _teacher_task(**options):
    from .task import teacher_task

    return teacher_task(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import SNNKConfig

    return [ModelSpec("snnk", SNNKConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("snnk/teacher", _teacher_task)]
