"""PaperZoo plugin for TabM: Advancing Tabular Deep Learning with Parameter-Efficient Ensembling
(Gorishniy, Kotelnikov and Babenko, 2024, arXiv:2410.24210), built on the authors' `tabm` package.
Importing this module is cheap; torch is imported when the model is built."""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import TabM

    return TabM(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.d_in),)


def _count_params(config) -> int:
    """Elements of the authors' TabM for the config. Its build initialises the first adapter one
    feature at a time, so a meta-device build would cost as much as the real one: the size check
    reads this instead. Per hidden layer (d_prev -> d_block): tabm, BatchEnsemble (shared weight,
    per-member r, s and bias); tabm-mini, a shared nn.Linear after one (k, d_in) adapter;
    tabm-packed, k separate linear layers. Then k heads (d_block -> d_out)."""
    k, d = config.k, config.d_block
    total = k * d * config.d_out + k * config.d_out
    for i in range(config.n_blocks):
        d_prev = config.d_in if i == 0 else d
        if config.arch_type == "tabm":
            total += d * d_prev + k * d_prev + 2 * k * d
        elif config.arch_type == "tabm-mini":
            total += d * d_prev + d
        else:
            total += k * d_prev * d + k * d
    if config.arch_type == "tabm-mini":
        total += k * config.d_in
    return total


def _from_task(values: dict, info) -> dict:
    """Features in, classes (classification) or targets (regression) out."""
    if info.kind not in ("classification", "regression") or len(info.input_shape) != 1:
        raise ValueError(f"tabm needs a classification or regression task on feature vectors (d,); "
                         f"got a {info.kind} task with inputs {info.input_shape}")
    d_out = info.num_classes if info.kind == "classification" else info.output_dim
    return {"d_in": info.input_shape[0], "d_out": d_out}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import TabMConfig

    return [ModelSpec("tabm", TabMConfig, _build, example_inputs=_example_inputs, from_task=_from_task,
                      count_params=_count_params)]
