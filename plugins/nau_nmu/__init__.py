"""PaperZoo plugin for Neural Arithmetic Units (Madsen & Johansen, ICLR 2020, arXiv:2001.05016).

Provides the model `nau-nmu`: the arithmetic dataset task's two-layer network, a Neural Addition Unit
(NAU) then a Neural Multiplication Unit (NMU) by default, NAU then NAU for addition and subtraction
(variant `addition`), and the NALU of Trask et al. (2018) in both layers as the paper's baseline
(variant `nalu`); and the generated tasks `nau-nmu/arithmetic-add`, `-sub`, `-mul`.

Departures from the paper: the NMU initialisation is uniform on [1/4, 3/4] (E[W] = 1/2, the variance
capped to fit [0, 1]), as the authors' released code does; weights are clamped after each optimizer
step; the success threshold is our reading of the paper's "nearly perfect solution" criterion (every
first-layer weight off by 1e-5); the reproduction uses 10 inputs instead of 100 and 45000 iterations
instead of 5*10^6, with the regulariser's warm-up at the same share of training (see repro.py). Importing this module is cheap;
torch is imported when a model or task is first built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import ArithmeticNet

    return ArithmeticNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_features) + 1.0,)


def _from_task(values: dict, info) -> dict:
    return {"in_features": info.input_dim, "out_features": info.output_dim}


def _arithmetic(operation: str, **options):
    from .task import ArithmeticTask

    return ArithmeticTask(operation, **options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import ArithmeticConfig

    return [ModelSpec("nau-nmu", ArithmeticConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec(f"nau-nmu/arithmetic-{op}", partial(_arithmetic, op)) for op in ("add", "sub", "mul")]
