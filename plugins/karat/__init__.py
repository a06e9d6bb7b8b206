"""PaperZoo plugin for Kolmogorov-Arnold Attention: Is Learnable Attention Better For Vision
Transformers? (Maity et al., 2025, arXiv:2503.10632): Fourier-KArAt in a vanilla timm ViT.

Importing this module is cheap; torch is imported when the model is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import KArAtViT

    return KArAtViT(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, *config.input_shape),)


def _from_task(values: dict, info) -> dict:
    """Image shape and classes from the task; patch size and widths stay the variant's (use the
    `digits` variant for 8x8 digits)."""
    if info.kind != "classification" or len(info.input_shape) != 3:
        raise ValueError(f"karat classifies images; task kind {info.kind!r} with input shape {info.input_shape} "
                         "is not an image classification task")
    return {"input_shape": list(info.input_shape), "num_classes": info.num_classes or info.output_dim}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import KArAtConfig

    return [ModelSpec("karat", KArAtConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
