"""PaperZoo plugin for "MLPST: MLP is All You Need for Spatio-Temporal Prediction" (Zhang et al.,
CIKM 2023). Provides the model `mlpst` (a pure-MLP grid-flow predictor: local and global spatial
MLPs over grid patches, temporal MLPs over the closeness / period / trend intervals, channel MLPs)
and the task `mlpst/grid-flow` (the next inflow/outflow map of a generated city grid from its
closeness, period and trend, on the shared `traffic_grid` generator).

Departures (details in model.py and DOC.md): layer sizes chosen for the small grid; the MLP-Mixer
conventions where the paper's block details are not recalled. Importing this module is cheap; torch
is imported when a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import MLPST

    return MLPST(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.steps, config.channels, config.height, config.width) * 2 - 1,)


def _from_task(values: dict, info) -> dict:
    extra = info.extra
    needed = ("closeness", "period", "trend", "channels", "height", "width")
    if len(info.input_shape) != 4 or any(k not in extra for k in needed):
        raise ValueError(f"mlpst reads closeness/period/trend grid maps (T, C, H, W); got inputs {info.input_shape}")
    return {k: extra[k] for k in needed}


def _grid_flow(**options):
    from .task import grid_flow_task

    return grid_flow_task("mlpst/grid-flow", **options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import MLPSTConfig

    return [ModelSpec("mlpst", MLPSTConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("mlpst/grid-flow", _grid_flow)]
