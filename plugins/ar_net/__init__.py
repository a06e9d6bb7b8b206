"""PaperZoo plugin for AR-Net: A simple Auto-Regressive Neural Network for time-series (Triebe,
Laptev & Rajagopal, 2019, arXiv:1911.12436), and the AR-process forecasting tasks `ar-net/ar3`
(AR(3) seen through 10 lags) and `ar-net/sparse-ar3` (AR(3) seen through 100 lags).

Departures from the paper (details in model.py and DOC.md): lambda rises linearly over the first
half of training (the authors' code delays it too, by a linear or quadratic ramp); the reproduction
trains with Adam and a cosine schedule instead of the authors' learning-rate range test and
one-cycle policy. Importing this module is cheap; torch is imported when a model or task is built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import ARNet

    return ARNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.lags),)


def _from_task(values: dict, info) -> dict:
    return {"lags": info.input_dim}


def _ar_task(name: str, window: int, **options):
    from .task import ARProcessTask

    return ARProcessTask(**{"order": 3, "window": window, "name": name, **options})


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import ARNetConfig

    return [ModelSpec("ar-net", ARNetConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("ar-net/ar3", partial(_ar_task, "ar-net/ar3", 10)),
            TaskSpec("ar-net/sparse-ar3", partial(_ar_task, "ar-net/sparse-ar3", 100))]
