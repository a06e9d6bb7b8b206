"""PaperZoo plugin for functional neural networks, "Functional Neural Networks: Shift invariant models
for functional data with applications to EEG classification" (Heinrichs, Heim & Weber, 2023):
functional layers whose weights are functions expanded in a Legendre basis, made shift invariant by
convolution over time (a functional MLP variant beside it); and the task
`functional-nn/shifted-signals`, EEG-like curves classified by the shape of a short signal whose timing is
jittered around a fixed time or, by default, random.

Departures (details in model.py and DOC.md): Legendre basis for the weight functions, valid
convolutions, class logits as time means of the last layer's functions; the data are our own
simulation, not the paper's EEG recordings. Importing this module is cheap; torch is imported when a
model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import FunctionalNN

    return FunctionalNN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.in_channels, config.grid_points).cumsum(-1) / 10,)


def _from_task(values: dict, info) -> dict:
    return {"in_channels": info.input_shape[0], "grid_points": info.input_shape[1], "num_classes": info.num_classes}


def _task(**options):
    from .task import ShiftedSignalTask

    return ShiftedSignalTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import FunctionalNNConfig

    return [ModelSpec("functional-nn", FunctionalNNConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("functional-nn/shifted-signals", _task)]
