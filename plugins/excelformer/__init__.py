"""PaperZoo plugin for ExcelFormer (Jintai Chen et al., "ExcelFormer: Can a DNN be a Sure Bet
for Tabular Prediction?", 2023): a transformer over table features with semi-permeable
attention (features sorted by mutual information; each attends only to more informative ones),
GLU-style embedding and feature updates, interaction-attenuated initialisation, and the Feat-Mix /
Hidden-Mix augmentations in its own training step. Provides the model `excelformer` for the zoo's
tabular classification and regression tasks.

Departures from the paper (details in model.py and DOC.md): the head's exact layout and which
attention matrices are attenuated follow the simplest reading of the text; the reproduction runs a
smaller model (d = 64, 8 heads) than the paper's fixed setting (d = 256, 32 heads) to fit the CPU
budget. Importing this module is cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import ExcelFormer

    return ExcelFormer(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.d_in),)


def _from_task(values: dict, info) -> dict:
    """Features in, classes (classification) or targets (regression) out."""
    if info.kind not in ("classification", "regression") or len(info.input_shape) != 1:
        raise ValueError(f"excelformer needs a classification or regression task on feature vectors (d,); got a "
                         f"{info.kind} task with inputs {info.input_shape}")
    d_out = info.num_classes if info.kind == "classification" else info.output_dim
    return {"d_in": info.input_shape[0], "d_out": d_out}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import ExcelFormerConfig

    return [ModelSpec("excelformer", ExcelFormerConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
