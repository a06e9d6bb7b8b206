"""PaperZoo plugin for LSSL: Combining Recurrent, Convolutional, and Continuous-time Models with Linear
State-Space Layers (Gu et al., 2021, arXiv:2110.13985), and the long-memory task `lssl/delayed-digits`
(8x8 digits read pixel by pixel, then a blank delay, classified at the last step).

Where the code departs from the paper (details in model.py and DOC.md): the Krylov kernel is built by
dense repeated squaring (O(H N^2 L)) instead of the paper's fast structured algorithm; a trained A is a
dense matrix initialised at HiPPO-LegS; the reproduction runs a smaller network (H = N = 32, 2 blocks)
on generated sequences instead of sequential MNIST, for the CPU budget.
Importing this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import LSSL

    return LSSL(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, 16, config.in_features),)


def _from_task(values: dict, info) -> dict:
    return {"in_features": info.input_shape[-1], "num_classes": info.num_classes or info.output_dim}


def _delayed_digits(**options):
    from .data import delayed_digits_task

    return delayed_digits_task(**options)


def _delayed_digits_permuted(**options):
    from .data import delayed_digits_task

    return delayed_digits_task(permute=True, **options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import LSSLConfig

    return [ModelSpec("lssl", LSSLConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("lssl/delayed-digits", _delayed_digits),
            TaskSpec("lssl/delayed-digits-permuted", _delayed_digits_permuted)]
