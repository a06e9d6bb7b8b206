"""PaperZoo plugin for TKAN: Temporal Kolmogorov-Arnold Networks (Genet & Inzirillo, 2024, arXiv:2405.07344).

Provides the model `tkan` and the task `forecast/mackey-glass`. Importing this module is cheap;
torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import TKAN

    return TKAN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, 6, config.input_dim),)


def _from_task(values: dict, info) -> dict:
    if info.kind != "forecasting":
        raise ValueError(f"tkan forecasts series; task kind {info.kind!r} is not 'forecasting'")
    features = info.input_shape[-1] if len(info.input_shape) == 2 else 1
    return {"input_dim": features, "output_dim": info.output_dim}


def _mackey_glass(**options):
    from .task import mackey_glass_task

    return mackey_glass_task(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import TKANConfig

    return [ModelSpec("tkan", TKANConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("forecast/mackey-glass", _mackey_glass)]
