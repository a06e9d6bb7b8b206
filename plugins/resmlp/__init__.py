"""PaperZoo plugin for ResMLP: Feedforward networks for image classification with data-efficient
training (Touvron et al., 2021, arXiv:2105.03404). Importing this module is cheap; torch is
imported when the model is built."""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import ResMLP

    return ResMLP(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_chans, config.img_size, config.img_size),)


def _from_task(values: dict, info) -> dict:
    """Input channels, image size and classes from an image-classification task."""
    if info.kind != "classification" or len(info.input_shape) != 3 or info.input_shape[1] != info.input_shape[2]:
        raise ValueError(f"resmlp needs a classification task with square images (C, H, H); "
                         f"got a {info.kind} task with inputs {info.input_shape}")
    channels, size, _ = info.input_shape
    return {"in_chans": channels, "img_size": size, "num_classes": info.num_classes}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import ResMLPConfig

    return [ModelSpec("resmlp", ResMLPConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
