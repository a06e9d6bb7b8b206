"""PaperZoo plugin for Network In Network (Lin, Chen and Yan, 2013, arXiv:1312.4400).
Importing this module is cheap; torch is imported when the model is built."""

from __future__ import annotations

from zoo import ModelSpec, hookimpl

# the CIFAR-10 images the paper's defaults were designed for
_EXAMPLE_SIZE = 32


def _build(config):
    from .model import NetworkInNetwork

    return NetworkInNetwork(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_chans, _EXAMPLE_SIZE, _EXAMPLE_SIZE),)


def _from_task(values: dict, info) -> dict:
    """Input channels and classes from an image-classification task."""
    if info.kind != "classification" or len(info.input_shape) != 3:
        raise ValueError(f"network-in-network needs a classification task with images (C, H, W); "
                         f"got a {info.kind} task with inputs {info.input_shape}")
    return {"in_chans": info.input_shape[0], "num_classes": info.num_classes}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import NINConfig

    return [ModelSpec("network-in-network", NINConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]
