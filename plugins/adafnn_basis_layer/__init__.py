"""PaperZoo plugin for AdaFNN, "Deep Learning for Functional Data Analysis with Adaptive Basis Layers"
(Yao, Mueller & Wang, ICML 2021): a Basis Layer of K micro networks t -> beta_k(t)
whose scores c_k = integral X(t) beta_k(t) dt (trapezoidal rule on the observation grid) feed an MLP,
trained end to end with orthogonality and L1 penalties on the bases; and the regression tasks
`adafnn-basis-layer/leading` and `adafnn-basis-layer/minor` on random Fourier curves.

Departures (details in model.py and DOC.md): ReLU micro networks and head, absolute inner products in
the orthogonality penalty (the simplest reading); the tasks are our own simulations in the spirit of
the paper's Sec. 5 (a target driven by two leading, or two small-variance, components), regression
only. Importing this module is cheap; torch is imported when a model or task is built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import AdaFNN

    return AdaFNN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.grid_points),)


def _from_task(values: dict, info) -> dict:
    return {"grid_points": info.input_shape[0], "output_dim": info.output_dim}


def _task(setting: str, **options):
    from .task import FunctionalRegressionTask

    return FunctionalRegressionTask(**{"setting": setting, **options})


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import AdaFNNConfig

    return [ModelSpec("adafnn-basis-layer", AdaFNNConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("adafnn-basis-layer/leading", partial(_task, "leading")),
            TaskSpec("adafnn-basis-layer/minor", partial(_task, "minor"))]
