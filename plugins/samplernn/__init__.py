"""PaperZoo plugin for SampleRNN: An Unconditional End-to-End Neural Audio Generation Model (Mehri et
al., 2016, arXiv:1612.07837), and the density task `samplernn/waves` (generated audio-like waveforms).

Departures from the paper (details in model.py and DOC.md): the sample-level MLP's sizes, weight
normalisation and input scaling follow the authors' code; the reproduction trains far smaller models
(64 units, short sequences) on generated waveforms instead of 1024-unit models on hours of audio.
Importing this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import SampleRNN

    return SampleRNN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randint(0, config.q_levels, (batch_size, config.frame_sizes[0] * 3)),)


def _from_task(values: dict, info) -> dict:
    return {"q_levels": info.extra["q_levels"], "quantization": info.extra["quantization"]}


def _waves(**options):
    from .task import WaveformTask

    return WaveformTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import SampleRNNConfig

    return [ModelSpec("samplernn", SampleRNNConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("samplernn/waves", _waves)]
