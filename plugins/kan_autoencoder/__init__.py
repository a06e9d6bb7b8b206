"""PaperZoo plugin for Kolmogorov-Arnold Network Autoencoders (Moradi et al., 2024).

Provides the model `kan-autoencoder` and the task `digits/reconstruction`. Importing this module
is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import KANAutoencoder

    return KANAutoencoder(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, *config.input_shape),)


def _from_task(values: dict, info) -> dict:
    if not info.extra.get("reconstruction"):
        raise ValueError("kan-autoencoder is trained on reconstruction tasks (e.g. 'digits/reconstruction'); "
                         f"this task ({info.kind}) does not ask for reconstructions")
    return {"input_shape": list(info.input_shape)}


def _digits_reconstruction(**options):
    from .task import digits_reconstruction_task

    return digits_reconstruction_task(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import KANAutoencoderConfig

    return [ModelSpec("kan-autoencoder", KANAutoencoderConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("digits/reconstruction", _digits_reconstruction)]
