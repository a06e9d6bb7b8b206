"""PaperZoo plugin for N-BEATS (Oreshkin et al., 2019, arXiv:1905.10437).

Provides the model `nbeats` (generic N-BEATS-G by default, interpretable N-BEATS-I as a variant)
and the generated task `nbeats/m4-like`. Importing this module is cheap; torch is imported when a
model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import NBeats

    return NBeats(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.input_size).cumsum(1) * 0.1 + 1,)


def _from_task(values: dict, info) -> dict:
    if info.kind != "forecasting":
        raise ValueError(f"nbeats forecasts a univariate series; task kind {info.kind!r} is not 'forecasting'")
    return {"input_size": info.input_dim, "horizon": info.output_dim}


def _m4_like(**options):
    from .task import M4LikeTask

    return M4LikeTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import NBeatsConfig

    return [ModelSpec("nbeats", NBeatsConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("nbeats/m4-like", _m4_like)]
