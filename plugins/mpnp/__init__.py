"""PaperZoo plugin for MPNP, "Martingale Posterior Neural Processes" (Lee et al., ICLR
2023): a neural process whose functional uncertainty comes from a martingale posterior,
pseudo contexts imputed by a generator conditioned on the context and the predictive averaged over
them; and the task `mpnp/gp-rbf`, 1D functions drawn from RBF Gaussian-process priors.

Departures (details in model.py and DOC.md): a CNP backbone (mean pooling) with an MLP generator
whose pseudo inputs are uniform over the input range; equally weighted loss terms; far fewer
training steps than the paper in the reproduction. Importing this module is cheap; torch is
imported when a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import MPNP

    return MPNP(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    points = 12
    x = torch.rand(batch_size, points, config.x_dim) * (config.x_high - config.x_low) + config.x_low
    y = torch.sin(3 * x.sum(-1, keepdim=True)).expand(-1, -1, config.y_dim).contiguous()
    role = torch.tensor([1] * 5 + [2] * 6 + [0]).expand(batch_size, points).contiguous()
    return x, y, role


def _from_task(values: dict, info) -> dict:
    return {"x_dim": info.extra.get("x_dim", 1), "y_dim": info.extra.get("y_dim", 1)}


def _task(**options):
    from .task import GPTask

    return GPTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import MPNPConfig

    return [ModelSpec("mpnp", MPNPConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("mpnp/gp-rbf", _task)]
