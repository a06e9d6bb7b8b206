"""PaperZoo plugin for Parallelizing Linear Transformers with the Delta Rule over Sequence Length
(Yang, Wang, Zhang, Shen & Kim, 2024, arXiv:2406.06484).

Provides the model `deltanet` (a DeltaNet language model whose token mixer updates a matrix state
by the delta rule, computed by the paper's chunkwise parallel WY/UT algorithm in plain torch, or, as
the `linear-attention` variant, by the additive update of linear attention) and the generated task
`deltanet/mqar` (multi-query associative recall, the paper's synthetic recall benchmark).

Departures from the paper: plain torch instead of the authors' Triton kernels; no query scaling
(the per-head output norm makes it immaterial); the reproduction uses a smaller MQAR (sequence 64,
16 pairs, vocabulary 128) than the paper's (512, 64, 8192) to fit one CPU core. Importing this
module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import DeltaNet

    return DeltaNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randint(config.vocab_size, (batch_size, 10)),)


def _from_task(values: dict, info) -> dict:
    return {"vocab_size": int(info.extra.get("vocab_size", info.output_dim))}


def _mqar(**options):
    from .task import mqar_task

    return mqar_task(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import DeltaNetConfig

    return [ModelSpec("deltanet", DeltaNetConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("deltanet/mqar", _mqar)]
