"""PaperZoo plugin for Fast Transformer Decoding: One Write-Head is All You Need (Shazeer, 2019,
arXiv:1911.02150): multi-query attention, where every attention head has its own queries but all
heads share one set of keys and values, so incremental decoding reads an h times smaller key/value
cache.

Provides the model `multi-query-attention` (a decoder-only Transformer with `kv_heads` key/value
heads; variants `mha`, kv_heads = h, and `mqa`, kv_heads = 1 with the wider feed-forward layer the
paper uses to keep the parameter count) and the generated task `multi-query-attention/sort`.

Departures from the paper: the model is decoder-only, not the paper's encoder-decoder for WMT14
En-De (the attention and its cache are the same; there is no encoder-decoder attention); for the
same reason the `mqa` variant's d_ff is the one that equalises parameters of a decoder-only model
(4096 + 7 x 128 = 4992), not the paper's 5440, which also pays for the encoder-decoder attention
layers. The reproduction trains a scaled-down model on a generated sorting task (budget: one CPU
core). Importing this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import MQATransformer

    return MQATransformer(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randint(config.vocab_size, (batch_size, 12)),)


def _from_task(values: dict, info) -> dict:
    return {"vocab_size": int(info.extra.get("vocab_size", info.output_dim))}


def _sort(**options):
    from .task import sort_task

    return sort_task(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import MQAConfig

    return [ModelSpec("multi-query-attention", MQAConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("multi-query-attention/sort", _sort)]
