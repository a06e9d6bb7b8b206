"""PaperZoo plugin for quadratic networks: On Expressivity and Trainability of Quadratic Networks
(Feng-Lei Fan, Mengzhou Li, Fei Wang, Rongjie Lai & Ge Wang, 2021; IEEE TNNLS).

The quadratic neuron sigma((W_r x + b_r) * (W_g x + b_g) + W_b (x^2) + c) in a fully connected
network, and ReLinear, the paper's training strategy: the quadratic terms start so that every neuron
is linear (W_g = 0, b_g = 1, W_b = 0, c = 0) and are trained with smaller learning rates than the
linear part (the model's `configure_optimizers` gives zoo.train the two parameter groups).

Departures (details in model.py and DOC.md): fully connected networks only (the paper also builds
quadratic convolutions and autoencoders); the quadratic terms' learning rate is one scale factor of
the linear part's, Adam for both. Importing this module is cheap; torch is imported when a model is
built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import QuadraticNet

    return QuadraticNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.input_dim),)


def _from_task(values: dict, info) -> dict:
    return {"input_dim": info.input_dim, "output_dim": info.output_dim}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import QuadraticNetConfig

    return [ModelSpec("quadratic-net", QuadraticNetConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]
