"""PaperZoo plugin for the gated perceptron of "More Consideration for the Perceptron" (Slimane
Larabi, 2024, arXiv:2409.13854): a single perceptron with one extra input, the product of its
inputs, so that one unit can separate XOR-like data. Provides the model `gated-perceptron` and the
task `gated-perceptron/xor` (noisy XOR in four clusters).

Departures from the paper (details in model.py and DOC.md): the paper's training details (learning
rate, epochs, activation of the regression variant) are not followed exactly; the model trains with
the task's cross entropy (a sigmoid / softmax unit) or, as option, the perceptron criterion
(Rosenblatt's rule); the regression experiments and the PIMA data set (not bundled) are left out.
Importing this module is cheap; torch is imported when a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import GatedPerceptron

    return GatedPerceptron(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.in_features),)


def _count_params(config) -> int:
    """Weights and biases of the unit(s): (d + gate) inputs plus a bias, per unit."""
    units = 1 if config.num_classes == 2 else config.num_classes
    return units * (config.in_features + int(config.gate) + 1)


def _from_task(values: dict, info) -> dict:
    """Features in, classes out (classification on feature vectors only)."""
    if info.kind != "classification" or len(info.input_shape) != 1:
        raise ValueError(f"gated-perceptron needs a classification task on feature vectors (d,); got a {info.kind} "
                         f"task with inputs {info.input_shape}")
    return {"in_features": info.input_shape[0], "num_classes": info.num_classes}


def _xor_task(**options):
    from .task import xor_task

    return xor_task(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import GatedPerceptronConfig

    return [ModelSpec("gated-perceptron", GatedPerceptronConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task, count_params=_count_params)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("gated-perceptron/xor", _xor_task)]
