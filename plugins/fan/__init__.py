"""PaperZoo plugin for FAN: Fourier Analysis Networks (Dong et al., 2024, arXiv:2410.02675), and
the periodic-function tasks `periodic/sin`, `periodic/mod`, `periodic/sawtooth`.
Importing this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import FAN

    return FAN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.in_features),)


def _from_task(values: dict, info) -> dict:
    return {"in_features": info.input_dim, "out_features": info.output_dim}


def _periodic(function: str, **options):
    from .data import periodic_task

    return periodic_task(function, **options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import FANConfig

    return [ModelSpec("fan", FANConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec(f"periodic/{name}", partial(_periodic, name)) for name in ("sin", "mod", "sawtooth")]
