"""PaperZoo plugin for FGCNN: Feature Generation by Convolutional Neural Network for Click-Through Rate
Prediction (Liu, Tang, Chen, Yu, Guo & Zhang, WWW 2019, arXiv:1904.04447).

Provides the model `fgcnn` (field embeddings -> CNN feature generation with recombination -> IPNN over the
raw and generated features) and its variant `ipnn` (the same network without feature generation: IPNN
alone, the paper's baseline). Trained on the shared generated CTR task `ctr/planted`.

Departures from the paper: the sizes (embedding 16, four convolutional layers of 14-20 maps with 7 x 1
kernels, pooling 2 x 1, 3 recombined maps per layer, MLP 256-128) are a small setting of the paper's shape,
not its per-data-set tuned values; max-pooling runs in ceil mode so that data sets with few fields keep at
least one row per layer; the output is two logits (0, z) so that softmax gives sigmoid(z), the paper's
click probability. Importing this module is cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import FGCNN

    return FGCNN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    limits = torch.tensor(config.field_cardinalities)
    return ((torch.rand(batch_size, len(limits)) * limits).long(),)


def _from_task(values: dict, info) -> dict:
    return {"field_cardinalities": list(info.extra["field_cardinalities"])}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import FGCNNConfig

    return [ModelSpec("fgcnn", FGCNNConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
