"""PaperZoo plugin for DySymNet, "A Neural-Guided Dynamic Symbolic Network for Exploring Mathematical
Expressions from Data" (Li et al., ICML 2024): a symbolic network (layers of operator units on affine
maps of the previous layer, constants fitted by gradient descent, the expression read off with
sympy) whose structure is sampled by an RNN controller trained with a risk-seeking policy gradient;
and the task `dysymnet/nguyen` (Nguyen symbolic-regression benchmarks).

`zoo.create("dysymnet", layers=...)` builds one symbolic network; `model.search` runs the controller.
Departures (details in model.py and DOC.md): a six-operator library, short structure fits with an
L-BFGS refinement of the constants, short searches. Importing this module is cheap; torch is
imported when a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import SymbolicNetwork

    return SymbolicNetwork(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.n_inputs) * 2 - 1,)


def _from_task(values: dict, info) -> dict:
    return {"n_inputs": info.input_shape[0]}


def _task(**options):
    from .task import NguyenTask

    return NguyenTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import SymbolicNetworkConfig

    return [ModelSpec("dysymnet", SymbolicNetworkConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("dysymnet/nguyen", _task)]
