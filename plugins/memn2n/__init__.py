"""PaperZoo plugin for End-To-End Memory Networks (Sukhbaatar et al., 2015, arXiv:1503.08895).

Provides the model `memn2n` (adjacent or layer-wise tying, position and temporal encoding, any
number of hops) and the generated bAbI-style tasks `memn2n/babi-qa1`, `-qa2`, `-qa3`. Importing
this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import MemN2N

    return MemN2N(config)


def babi_example_inputs(config, batch_size: int) -> tuple:
    """A batch of bAbI-shaped (story, question) word ids for a model of this config."""
    import torch

    sentences = min(5, config.memory_size)
    story = torch.randint(1, config.vocab_size, (batch_size, sentences, 6))
    story[:, -1] = 0  # an empty slot, as a short story has
    return story, torch.randint(1, config.vocab_size, (batch_size, 4))


def babi_sizes(values: dict, info) -> dict:
    """Vocabulary and memory size from a bAbI task."""
    return {"vocab_size": info.extra["vocab_size"], "memory_size": info.extra["memory_size"]}


def _babi(qa: int, **options):
    from .task import BabiTask

    return BabiTask(qa, **options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import MemN2NConfig

    return [ModelSpec("memn2n", MemN2NConfig, _build, example_inputs=babi_example_inputs, from_task=babi_sizes)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec(f"memn2n/babi-qa{qa}", partial(_babi, qa)) for qa in (1, 2, 3)]
