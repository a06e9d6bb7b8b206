"""PaperZoo plugin for Generative Adversarial Nets (Goodfellow et al., 2014, arXiv:1406.2661).

Provides the model `gan` and the 2D Gaussian-mixture tasks `mixture2d/ring8` and
`mixture2d/grid25` (labelled by component, so conditional models use them too).
Importing this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import GAN

    return GAN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.latent_dim) * 2 - 1,)


def _from_task(values: dict, info) -> dict:
    """Generate samples shaped like the task's inputs; unbounded data gets a linear output."""
    real_valued = info.extra.get("support") == "real"
    return {"data_shape": list(info.input_shape), "output_activation": "identity" if real_valued else "sigmoid"}


def _ring8(**options):
    from .mixture import ring8

    return ring8(**options)


def _grid25(**options):
    from .mixture import grid25

    return grid25(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import GANConfig

    return [ModelSpec("gan", GANConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("mixture2d/ring8", _ring8), TaskSpec("mixture2d/grid25", _grid25)]
