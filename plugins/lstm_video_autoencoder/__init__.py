"""PaperZoo plugin for Unsupervised Learning of Video Representations using LSTMs (Srivastava,
Mansimov and Salakhutdinov, 2015, arXiv:1502.04681): the composite LSTM encoder-decoder
(reconstruction decoder reading out the input in reverse, future predictor; conditional or
unconditioned decoders) and the LSTM classifier initialised from its encoder; with the tasks
`moving-digits/video` (Moving MNIST built from scikit-learn's 8x8 digits) and
`moving-digits/classify` (which digit moves, few labels).

Where the code departs from the paper (details in model.py and DOC.md): reconstructions are returned
in natural time order; the data are 8x8 digits bouncing in 16x16 frames instead of MNIST digits in
64x64 frames, and the downstream task is digit identity instead of UCF-101 / HMDB-51 actions; the
reproduction uses 128 LSTM units instead of 2048, for the CPU budget.
Importing this module is cheap; torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import LSTMVideoAutoencoder

    return LSTMVideoAutoencoder(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    size = config.frame_size
    frames = torch.rand(batch_size, config.input_frames, size, size)
    if config.num_classes:
        return (frames,)
    return (frames, torch.rand(batch_size, config.future_frames, size, size))


def _from_task(values: dict, info) -> dict:
    if info.kind == "classification":
        return {"frame_size": info.input_shape[-1], "num_classes": info.num_classes,
                "input_frames": info.input_shape[0]}
    return {"frame_size": info.extra["frame_size"], "input_frames": info.extra["input_frames"],
            "future_frames": info.extra["future_frames"], "num_classes": 0}


def _video(**options):
    from .data import MovingDigitsVideo

    return MovingDigitsVideo(**options)


def _classify(**options):
    from .data import moving_digits_classify

    return moving_digits_classify(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import LSTMVideoAutoencoderConfig

    return [ModelSpec("lstm-video-autoencoder", LSTMVideoAutoencoderConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("moving-digits/video", _video), TaskSpec("moving-digits/classify", _classify)]
