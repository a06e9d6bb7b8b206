"""PaperZoo plugin for Transformers Can Do Bayesian Inference (Mueller et al., 2022,
arXiv:2112.10510): the Prior-Data Fitted Network `pfn` and the GP-prior task `gp-prior/rbf-1d`.
Importing this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import PFN

    return PFN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, 8, config.x_dim), torch.randn(batch_size, 8), torch.rand(batch_size, 4, config.x_dim))


def _from_task(values: dict, info) -> dict:
    """Size x from the task and place the bars by the prior's y marginal."""
    if "x_dim" not in info.extra or "y_std" not in info.extra:
        raise ValueError("pfn needs a prior task whose info.extra gives x_dim and y_std (e.g. gp-prior/rbf-1d)")
    return {"x_dim": info.extra["x_dim"], "bucket_std": float(info.extra["y_std"])}


def _gp_prior(**options):
    from .prior import GPPriorTask

    return GPPriorTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import PFNConfig

    return [ModelSpec("pfn", PFNConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("gp-prior/rbf-1d", _gp_prior)]
