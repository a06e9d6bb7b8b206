"""PaperZoo plugin for multiplet neural networks: An Informal Introduction to Multiplet Neural
Networks (Nathan E. Frick, 2020), and the tasks `multiplet/xor` (XOR on positive
inputs) and `multiplet/multiply`, `multiplet/divide` (products and quotients of positive numbers).

A multiplet neuron outputs a weighted mean of its positive inputs instead of a squashed weighted
sum: the weighted Lehmer mean L_p = sum w x^p / sum w x^(p-1) or the weighted Gini mean
G_rs = (sum w x^r / sum w x^s)^(1/(r-s)), with the exponents learned per neuron. Real (possibly
negative) weights and a constant input of 1 let a Gini neuron form monomials such as x1 x2 and
x1 / x2, and two Lehmer layers solve XOR.

Departures (details in model.py and DOC.md): hidden outputs are clamped to a small positive floor
so that the next layer's powers and logarithms stay defined; the Gini mean's inner sums are clamped
the same way. Importing this module is cheap; torch is imported when a model or task is built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import MultipletNet

    return MultipletNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.input_dim) + 0.5,)


def _from_task(values: dict, info) -> dict:
    return {"input_dim": info.input_dim, "output_dim": info.output_dim}


def _task(kind: str, **options):
    from .task import arithmetic_task, xor_task

    return xor_task(**options) if kind == "xor" else arithmetic_task(kind, **options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import MultipletConfig

    return [ModelSpec("multiplet-nn", MultipletConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec(f"multiplet/{kind}", partial(_task, kind)) for kind in ("xor", "multiply", "divide")]
