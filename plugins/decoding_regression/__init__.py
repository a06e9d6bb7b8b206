"""PaperZoo plugin for Decoding-based Regression (Xingyou Song and Dara Bahri, 2025,
arXiv:2501.19383): a regression model whose head is a causal transformer that emits the target as
digit tokens (normalized or sign / exponent / mantissa tokenization), trained with cross entropy;
its point prediction is the mean of the decoded distribution, and it gives a full density p(y | x). Provides the model
`decoding-regression` (with `head="mse"`, the MSE-head baseline on the same encoder) and the tasks
`decoding-regression/make-regression` (sklearn make_regression) and `decoding-regression/bimodal`
(a target with two conditional modes).

Departures from the paper (details in model.py and DOC.md): small fixed encoder and decoder sizes;
the mean is estimated with each digit's exact conditional expectation given the sampled prefix
(same expectation as averaging decoded samples, lower variance). Importing this module is cheap;
torch is imported when a model or task is built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import DecodingRegressor

    return DecodingRegressor(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.d_in),)


def _from_task(values: dict, info) -> dict:
    """Features in; one regression target out."""
    if info.kind != "regression" or len(info.input_shape) != 1 or info.output_dim != 1:
        raise ValueError(f"decoding-regression needs a regression task on feature vectors (d,) with one target; got a "
                         f"{info.kind} task with inputs {info.input_shape} and {info.output_dim} outputs")
    return {"d_in": info.input_shape[0]}


def _task(which: str, **options):
    from . import task

    return {"make-regression": task.make_regression_task, "bimodal": task.bimodal_task}[which](**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import DecodingRegressionConfig

    return [ModelSpec("decoding-regression", DecodingRegressionConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("decoding-regression/make-regression", partial(_task, "make-regression")),
            TaskSpec("decoding-regression/bimodal", partial(_task, "bimodal"))]
