"""PaperZoo plugin for AILA: Adaptive Integrated Layered Attention (2025).

A feed-forward network in which every layer reads not only the layer below but an adaptive
combination of the outputs of all earlier layers: the layer's own state queries the earlier outputs
(keys and values) and attends over them ("attention" connections), or weighs them by learned,
input-independent softmax weights ("gated" connections, the lighter variant).

Departures (details in model.py and DOC.md): the layers are fully connected with ReLU on flattened
inputs, one attention head over layer outputs; the paper's task-specific front ends are not built.
Importing this module is cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import AILA

    return AILA(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.input_dim),)


def _from_task(values: dict, info) -> dict:
    return {"input_dim": info.input_dim, "output_dim": info.output_dim}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import AILAConfig

    return [ModelSpec("aila", AILAConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
