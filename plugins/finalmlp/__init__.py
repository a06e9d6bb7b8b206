"""PaperZoo plugin for FinalMLP: An Enhanced Two-Stream MLP Model for CTR Prediction (Mao, Zhu, Su, Cai, Li &
Dong, AAAI 2023, arXiv:2304.00902).

Provides the model `finalmlp` (two MLP streams with stream-specific feature gating and
multi-head bilinear interaction aggregation) with the variant `dualmlp` (the plain two-stream MLP, the
paper's DualMLP: no gating, linear fusion). The baselines of its reproduction, DeepFM and DCN, live in
baselines.py (not catalog models). Trained on the shared generated CTR task `ctr/planted`.

Departures from the paper: sizes follow the shape of the authors' released Criteo setting as far as we know
it (embedding 10, streams 400-400-400 and 800, gate hidden 800, 10 heads) without its per-data-set tuning;
no batch normalisation or dropout by default; the output is two logits (0, z) so that softmax gives
sigmoid(z). Importing this module is cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import FinalMLP

    return FinalMLP(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    limits = torch.tensor(config.field_cardinalities)
    return ((torch.rand(batch_size, len(limits)) * limits).long(),)


def _from_task(values: dict, info) -> dict:
    return {"field_cardinalities": list(info.extra["field_cardinalities"])}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import FinalMLPConfig

    return [ModelSpec("finalmlp", FinalMLPConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
