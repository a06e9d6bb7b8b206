"""PaperZoo plugin for ReGENN, "Pay Attention to Evolution: Time Series Forecasting with Deep
Graph-Evolution Learning" (Spadon, Hong, Brandoli, Matwin, Rodrigues-Jr & Sun, TPAMI 2021).
Provides the model `regenn`: a learned, window-evolved graph of inter-series relations, a graph
convolution over series and recurrent cells, forecasting multivariate series; its reproduction uses
the shared task `dynamics/coupled`, whose planted graph also tests the learned relations.

Departures (details in model.py and DOC.md): the simplest reading of the paper's blocks (a linear
time-axis encoder, evolved graph A_t = R + M * C(window), one graph convolution, one recurrent
layer shared by the series, a linear decoder). Importing this module is cheap; torch is imported
when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import ReGENN

    return ReGENN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.lookback, config.n_series),)


def _from_task(values: dict, info) -> dict:
    if len(info.input_shape) != 2:
        raise ValueError(f"regenn reads windows (lookback, series); got inputs {info.input_shape}")
    lookback, series = info.input_shape
    horizon = info.extra.get("horizon", max(1, info.output_dim // series))
    if horizon * series != info.output_dim:
        raise ValueError(f"regenn forecasts horizon x series values; the task's output_dim {info.output_dim} is not "
                         f"{horizon} x {series}")
    return {"lookback": lookback, "n_series": series, "horizon": horizon,
            "encoded_steps": min(values.get("encoded_steps", 12), lookback)}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import ReGENNConfig

    return [ModelSpec("regenn", ReGENNConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
