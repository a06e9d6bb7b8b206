"""PaperZoo plugin for Fourier Head: Helping Large Language Models Learn Complex Probability
Distributions (Gillman et al., 2024, arXiv:2410.22269): the model `fourier-head` (the paper's toy
MLP ending in a Fourier head; `head="linear"`, the `linear` variant, is its baseline), the layer
`FourierHead` and the smoothness metric (model.py), and the toy tasks `fourier-head/gaussian`,
`fourier-head/gmm2` and `fourier-head/beta` (data.py).

Departures from the paper: none in the head's maths (see model.py); the reproduction's budget and
choices are in DOC.md. Importing this module is cheap; torch is imported when a model or task is
first built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import FourierHeadMLP

    return FourierHeadMLP(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_features) * 50,)


def _from_task(values: dict, info) -> dict:
    return {"in_features": info.input_dim, "num_bins": info.num_classes}


def _toy(name: str, **options):
    from .data import toy_task

    return toy_task(name, **options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import FourierHeadConfig

    return [ModelSpec("fourier-head", FourierHeadConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec(f"fourier-head/{name}", partial(_toy, name)) for name in ("gaussian", "gmm2", "beta")]
