"""PaperZoo plugin for ARM-Net: Adaptive Relation Modeling Network for Structured Data (Cai, Zheng, Chen, Jagadish,
Ooi & Zhang, SIGMOD 2021, arXiv:2107.01830).

Provides the model `arm-net` (exponential neurons over log-space field embeddings, with interaction weights
from multi-head gated alpha-entmax attention, and an MLP on the cross features) with the variant `plus`
(ARM-Net+, the ensemble with a DNN). The baselines of its reproduction, an embedding MLP and a factorization
machine, live in baselines.py (not catalog models). Trained on the shared generated tasks `ctr/planted`
(categorical ids) and `tabular/interactions` (numeric features).

Departures from the paper: the sizes (embedding 10, 4 heads of 16 neurons, MLP 300-300, ARM-Net+'s DNN
300-300) are a small setting of the paper's shape, not its per-data-set tuning; the interaction weights are
w_i = v_i * entmax(z_i) (the value vector gated by the attention), a batch norm per exponential neuron before
the MLP and ARM-Net+'s linear combination of the two logits follow the authors' released code where the paper's
text leaves them open; numeric values are not clipped to (0, 1]; the output is two logits (0, z). Importing
this module is cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import ARMNet

    return ARMNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    if config.field_cardinalities:
        limits = torch.tensor(config.field_cardinalities)
        return ((torch.rand(batch_size, len(limits)) * limits).long(),)
    return (torch.randn(batch_size, config.numeric_features),)


def _from_task(values: dict, info) -> dict:
    if "field_cardinalities" in info.extra:
        return {"field_cardinalities": list(info.extra["field_cardinalities"]), "numeric_features": 0}
    return {"field_cardinalities": [], "numeric_features": info.input_dim}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import ARMNetConfig

    return [ModelSpec("arm-net", ARMNetConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
