"""PaperZoo plugin for Memory Networks (Weston, Chopra and Bordes, 2014, arXiv:1410.3916).

Provides the model `memory-networks`: the I, G, O, R memory network with bag-of-words features,
k hops of hard (argmax) memory retrieval with s_O(x, m) = x^T U_O^T U_O m, a single-word response
s_R, optional write-time features, trained with the margin ranking loss over supporting facts and
answers (strong supervision) by SGD. And the tasks `memory-networks/babi-qa1`, `-qa2`, `-qa3`: the
`memn2n` plugin's generated bAbI-style stories with their supporting facts added.

Departures from the paper (details in model.py): time features are signs (+1/0/-1) instead of 0/1
indicators, which the paper's pairwise loss needs to order two sentences with the same words; the
write time of x from the second hop on is that of the last memory found; negatives are summed in
full over minibatches instead of sampled one example at a time; the paper's toy world and its
questions are replaced by memn2n's generated bAbI-style tasks (the bAbI files are not offline).
Importing this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl
from zoo_plugins.memn2n import babi_example_inputs, babi_sizes  # the same stories and questions


def _build(config):
    from .model import MemNN

    return MemNN(config)


def _babi(qa: int, **options):
    from .task import SupportedBabiTask

    return SupportedBabiTask(qa, **options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import MemNNConfig

    return [ModelSpec("memory-networks", MemNNConfig, _build, example_inputs=babi_example_inputs, from_task=babi_sizes)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec(f"memory-networks/babi-qa{qa}", partial(_babi, qa)) for qa in (1, 2, 3)]
