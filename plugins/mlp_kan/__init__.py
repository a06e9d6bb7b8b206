"""PaperZoo plugin for MLP-KAN: Unifying Deep Representation and Function Learning (He et al., 2024,
arXiv:2410.03027). Importing this module is cheap; torch is imported when the model is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import MLPKAN

    return MLPKAN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, *config.input_shape),)


def _from_task(values: dict, info) -> dict:
    """Input shape and head size from the task; patch size and widths stay the variant's (use the
    `digits` or `function` variant for small data)."""
    return {"input_shape": list(info.input_shape), "output_dim": info.num_classes or info.output_dim}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import MLPKANConfig

    return [ModelSpec("mlp-kan", MLPKANConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
