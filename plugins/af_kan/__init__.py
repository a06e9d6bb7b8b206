"""PaperZoo plugin for AF-KAN: Activation Function-Based Kolmogorov-Arnold Networks for Efficient
Representation Learning (Ta & Tran, 2025, arXiv:2503.06112); ReLU-KAN is its `relu-kan` variant.

Importing this module is cheap; torch is imported when the model is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import AFKAN

    return AFKAN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.width[0]),)


def _from_task(config: dict, info) -> dict:
    """Flattened input size and number of outputs from the task; hidden widths stay as configured."""
    from .config import AFKANConfig

    hidden = config.get("width", AFKANConfig.model_fields["width"].default)[1:-1]
    return {"width": [info.input_dim, *hidden, info.output_dim]}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import AFKANConfig

    return [ModelSpec("af-kan", AFKANConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
