"""PaperZoo plugin for Conditional GANs with Auxiliary Discriminative Classifier (Hou et al., 2021,
arXiv:2107.10060): the model `adc-gan` (ADC-GAN, and AC-GAN as `loss="ac"`, the `acgan` variant)
and the class-overlapping task `adc-gan/overlap1d`.

The GAN losses are the `gan` plugin's (binary cross-entropy on logits, non-saturating generator);
what is new is the classifier term of each player (model.py). Departures from the paper: see
model.py (a tanh after every hidden layer of G) and DOC.md (the reproduction's budget).
Importing this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import ADCGAN

    return ADCGAN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return torch.randn(batch_size, config.latent_dim), torch.arange(batch_size) % config.num_classes


def _from_task(values: dict, info) -> dict:
    """Condition on the task's classes; generate samples shaped like its inputs."""
    if not info.num_classes:
        raise ValueError(f"adc-gan needs a labelled task (num_classes set); this task ({info.kind}) has none")
    return {"data_shape": list(info.input_shape), "num_classes": info.num_classes}


def _overlap1d(**options):
    from .task import overlap1d

    return overlap1d(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import ADCGANConfig

    return [ModelSpec("adc-gan", ADCGANConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("adc-gan/overlap1d", _overlap1d)]
