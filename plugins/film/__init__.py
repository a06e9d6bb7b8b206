"""PaperZoo plugin for FiLM: Visual Reasoning with a General Conditioning Layer (Perez et al., 2017,
arXiv:1709.07871), with the generated `sort-of-clevr` visual question-answering task. Importing
this module is cheap; torch is imported when a model or task is built."""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl

# raw-pixel CLEVR images in the paper are 224 x 224; examples use the sort-of-clevr size
_EXAMPLE_SIZE = 16
_EXAMPLE_QUESTION_LENGTH = 3


def _build(config):
    from .model import FiLMNet

    return FiLMNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    images = torch.rand(batch_size, config.in_chans, _EXAMPLE_SIZE, _EXAMPLE_SIZE)
    questions = torch.randint(1, config.vocab_size, (batch_size, _EXAMPLE_QUESTION_LENGTH))
    return images, questions


def _from_task(values: dict, info) -> dict:
    """Image channels, question vocabulary and answers from a visual question-answering task."""
    if info.kind != "classification" or len(info.input_shape) != 3 or "vocab_size" not in info.extra:
        raise ValueError(f"film needs a visual question-answering task (images (C, H, W), a question "
                         f"vocab_size in TaskInfo.extra); got a {info.kind} task with inputs {info.input_shape}")
    return {"in_chans": info.input_shape[0], "vocab_size": info.extra["vocab_size"], "num_answers": info.num_classes}


def _sort_of_clevr(**options):
    from .task import SortOfCLEVR

    return SortOfCLEVR(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import FiLMConfig

    return [ModelSpec("film", FiLMConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("sort-of-clevr", _sort_of_clevr)]
