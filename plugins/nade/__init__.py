"""PaperZoo plugin for Neural Autoregressive Distribution Estimation (Uria et al., 2016,
arXiv:1605.02226): NADE and order-agnostic DeepNADE, and the `digits-binarized` density task.
Importing this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import NADE

    return NADE(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.bernoulli(torch.full((batch_size, config.input_dim), 0.5)),)


def _from_task(values: dict, info) -> dict:
    return {"input_dim": info.input_dim}


def _binarized_digits(**options):
    from .data import binarized_digits

    return binarized_digits(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import NADEConfig

    return [ModelSpec("nade", NADEConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("digits-binarized", _binarized_digits)]
