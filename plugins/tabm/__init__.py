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

    return [ModelSpec("tabm", TabMConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
