"""PaperZoo plugin for bilinear layers: A technical note on bilinear layers for interpretability
(Lee Sharkey, 2023, arXiv:2305.03452).

A bilinear layer replaces an MLP's elementwise nonlinearity by the elementwise product of two linear
maps, W_out ((W1 x) * (W2 x)); with no nonlinearity left, the layer is exactly a third-order tensor
B with out_k = sum_ij B_kij x_i x_j, which the model returns (`interaction_tensor`). The same model
builds the ReLU and GELU MLPs it is compared with (`activation`).

Departures (details in model.py and DOC.md): the note analyses bilinear layers inside transformers;
here they sit in a one-hidden-layer MLP or a residual MLP (embedding, residual bilinear blocks,
linear read-out) without normalisation, on small classification and regression tasks; biases are on
by default (the tensor then acts on x with a constant 1 appended). Importing
this module is cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import BilinearMLP

    return BilinearMLP(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.input_dim),)


def _from_task(values: dict, info) -> dict:
    return {"input_dim": info.input_dim, "output_dim": info.output_dim}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import BilinearConfig

    return [ModelSpec("bilinear-layer", BilinearConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
