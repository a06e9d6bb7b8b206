"""PaperZoo plugin for the Discriminative Kalman Filter, "A Discriminative Approach to Bayesian
Filtering with Applications to Human Neural Decoding" (Burkhart, Brandman, Franco, Hochberg &
Harrison, Neural Computation 2020): the model `discriminative-kalman-filter` (linear-Gaussian state
dynamics, a neural-network Gaussian approximation N(f(x_t), Q(x_t)) of p(z_t | x_t), the paper's
closed-form filter update) and the task `dkf/state-space` (a latent state seen through
high-dimensional nonlinear observations; data from `zoo_plugins.tasks.dynamics`).

Departures (details in model.py and DOC.md): none in the filter; generated observations instead of
recorded neurons. Importing this module is cheap; torch is imported when a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import DKF

    return DKF(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, 6, config.obs_dim),)


def _from_task(values: dict, info) -> dict:
    return {"obs_dim": info.extra["obs_dim"], "state_dim": info.extra["state_dim"]}


def _state_space(**options):
    from .task import StateSpaceTask

    return StateSpaceTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import DKFConfig

    return [ModelSpec("discriminative-kalman-filter", DKFConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("dkf/state-space", _state_space)]
