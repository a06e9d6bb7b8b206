"""PaperZoo plugin for Hopfield Networks is All You Need (Ramsauer et al., 2020, arXiv:2008.02217).

Provides the model `hopfield-layer`: a tabular classifier built on one of the paper's three layers
(Hopfield, HopfieldPooling, HopfieldLayer, as variants); the layers and the update rule itself
(`hopfield_update`, Eq. 3) live in `zoo_plugins.hopfield_layer.model`. Importing this module is
cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import HopfieldClassifier

    return HopfieldClassifier(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.in_features),)


def _from_task(values: dict, info) -> dict:
    if info.kind != "classification" or info.num_classes is None:
        raise ValueError(f"hopfield-layer classifies feature vectors; got a {info.kind} task")
    return {"in_features": info.input_dim, "num_classes": info.num_classes}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import HopfieldConfig

    return [ModelSpec("hopfield-layer", HopfieldConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
