"""PaperZoo plugin for Neural Ordinary Differential Equations (Chen et al., 2018, arXiv:1806.07366).

Provides the models `neural-ode` (ODE-Net image classifier, with the paper's ResNet baseline as a
variant) and `latent-ode` (latent trajectory model), both on torchdiffeq, and the generated task
`neural-ode/spirals`. Importing this module is cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build_odenet(config):
    from .model import ODENet

    return ODENet(config)


def _build_latent(config):
    from .model import LatentODE

    return LatentODE(config)


def _odenet_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_channels, 8, 8),)


def _latent_inputs(config, batch_size: int) -> tuple:
    import torch

    times = torch.linspace(0, 3, 12)
    return torch.randn(batch_size, 8, config.obs_dim), times


def _odenet_from_task(values: dict, info) -> dict:
    if info.kind != "classification" or len(info.input_shape) != 3:
        raise ValueError(f"neural-ode classifies images (C, H, W); got a {info.kind} task with inputs {info.input_shape}")
    # as many of the paper's two stride-2 steps as keep the maps at least 3x3 (GroupNorm needs room)
    size, steps = min(info.input_shape[1:]) - 2, 0
    while steps < 2 and (size + 2 - 4) // 2 + 1 >= 3:
        size, steps = (size + 2 - 4) // 2 + 1, steps + 1
    return {"in_channels": info.input_shape[0], "num_classes": info.num_classes, "downsample_steps": steps}


def _latent_from_task(values: dict, info) -> dict:
    return {"obs_dim": info.input_shape[-1]}


def _spirals(**options):
    from .task import SpiralsTask

    return SpiralsTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import LatentODEConfig, ODENetConfig

    return [
        ModelSpec("neural-ode", ODENetConfig, _build_odenet, example_inputs=_odenet_inputs, from_task=_odenet_from_task),
        ModelSpec("latent-ode", LatentODEConfig, _build_latent, example_inputs=_latent_inputs, from_task=_latent_from_task),
    ]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("neural-ode/spirals", _spirals)]
