"""PaperZoo plugin for GG MoE, from "(GG) MoE vs. MLP on Tabular Data" (Andrei Chernov, 2025,
arXiv:2502.03608): a mixture of experts with a Gumbel-Softmax gate after a numerical embedding
layer, proposed as a smaller replacement for the MLP on tabular data. Provides the model `gg-moe`
(with `gating="softmax"`, the standard MoE) for the zoo's tabular tasks.

Departures from the paper (details in model.py and DOC.md): each expert is one linear layer and the
embedding is per-feature linear + ReLU by default (the simplest reading of the abstract); the
reproduction uses fixed hyperparameters and the bundled sklearn tables instead of the paper's
tuned runs on 38 data sets. Importing this module is cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import GGMoE

    return GGMoE(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.d_in),)


def _count_params(config) -> int:
    """Embedding, gate and the K experts, from the config."""
    d, e, k, h, out = config.d_in, config.d_embedding, config.num_experts, config.expert_dim, config.d_out
    if config.embedding == "none":
        embedding, width = 0, d
    elif config.embedding == "linear-relu":
        embedding, width = 2 * d * e, d * e
    else:  # periodic (PLR, not lite): 48 frequencies per feature, then a per-feature linear 96 -> e
        embedding, width = d * 48 + d * (96 * e + e), d * e
    gate = width * k + k
    experts = k * (width * h + h + h * out + out) if h else k * (width * out + out)
    return embedding + gate + experts


def _from_task(values: dict, info) -> dict:
    """Features in, classes (classification) or targets (regression) out."""
    if info.kind not in ("classification", "regression") or len(info.input_shape) != 1:
        raise ValueError(f"gg-moe needs a classification or regression task on feature vectors (d,); got a "
                         f"{info.kind} task with inputs {info.input_shape}")
    d_out = info.num_classes if info.kind == "classification" else info.output_dim
    return {"d_in": info.input_shape[0], "d_out": d_out}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import GGMoEConfig

    return [ModelSpec("gg-moe", GGMoEConfig, _build, example_inputs=_example_inputs, from_task=_from_task,
                      count_params=_count_params)]
