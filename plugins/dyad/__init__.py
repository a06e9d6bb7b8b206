"""PaperZoo plugin for DyAd, "Meta-Learning Dynamics Forecasting Using Task Inference" (Wang,
Walters & Yu, NeurIPS 2022): the model `dyad`, a weakly supervised task encoder that modulates a
shared convolutional forecaster through AdaIN and adaptive padding (variant `baseline`: the same
forecaster without the encoder), and the task `dyad/oscillator` (damped oscillators, test systems
with parameters outside the training ranges; data from `zoo_plugins.tasks.dynamics`).

Departures (details in model.py and DOC.md): a 1-D convolutional forecaster over time with a
one-shot multi-step head; encoder trained jointly with the forecaster; the time-invariance loss
compares the two halves of the input window. Importing this module is cheap; torch is imported
when a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import DyAd

    return DyAd(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.lookback, config.channels),)


def _from_task(values: dict, info) -> dict:
    extra = info.extra
    return {"lookback": extra["lookback"], "horizon": extra["horizon"], "channels": extra["channels"],
            "param_dim": extra.get("param_dim", 0)}


def _oscillator(**options):
    from .task import OscillatorForecastTask

    return OscillatorForecastTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import DyAdConfig

    return [ModelSpec("dyad", DyAdConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("dyad/oscillator", _oscillator)]
