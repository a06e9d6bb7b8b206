"""PaperZoo plugin for Sequencer: Deep LSTM for Image Classification (Tatsunami & Taki, 2022,
arXiv:2205.01972): Sequencer2D, vertical and horizontal BiLSTMs in place of self-attention.

The model is timm's `Sequencer2d` configured from a typed config whose defaults are the paper's
Sequencer2D-S; variants m and l are the paper's larger models, `digits` a small one for 8x8 images.
Departures from the paper (see model.py and DOC.md): timm's initialisation; the `digits` variant and
the reproduction's small scale (8x8 digits on CPU instead of ImageNet-1k on GPUs, no data
augmentation beyond what the recipe states). Importing this module is cheap; torch is imported
when the model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import Sequencer2D

    return Sequencer2D(config)


def _lstm_params(inputs: int, hidden: int, layers: int, directions: int) -> int:
    """Elements of torch's nn.LSTM: per layer and direction 4 gates of input and recurrent weights
    and two bias vectors."""
    total, size = 0, inputs
    for _ in range(layers):
        total += directions * (4 * hidden * (size + hidden) + 8 * hidden)
        size = hidden * directions
    return total


def _count_params(config) -> int:
    """Elements of timm's Sequencer2d for the config (the size check reads this instead of a meta
    build): stem, per stage the downsampling conv and its blocks (two LayerNorms, the vertical and
    horizontal LSTMs, the union's fully connected layer, the channel MLP), final norm and head."""
    directions = 2 if config.bidirectional else 1
    both = config.union in ("cat", "add")
    total, previous = 0, config.in_chans
    for i, (depth, patch, c, d, ratio) in enumerate(zip(config.layers, config.patch_sizes, config.embed_dims,
                                                        config.hidden_sizes, config.mlp_ratios)):
        total += previous * c * patch * patch + c  # stem (i = 0) or downsampling conv
        lstm = _lstm_params(c, d, config.num_rnn_layers, directions) * (2 if both else 1)
        union = d * directions * (2 if config.union == "cat" else 1)
        fc = union * c + c if config.with_fc else 0
        hidden = int(ratio * c)
        block = 4 * c + lstm + fc + (c * hidden + hidden + hidden * c + c)
        total += depth * block
        previous = c
    return total + 2 * previous + previous * config.num_classes + config.num_classes


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_chans, config.img_size, config.img_size),)


def _from_task(values: dict, info) -> dict:
    """Input channels, image size and classes from an image-classification task."""
    if info.kind != "classification" or len(info.input_shape) != 3 or info.input_shape[1] != info.input_shape[2]:
        raise ValueError(f"sequencer needs a classification task with square images (C, H, H); "
                         f"got a {info.kind} task with inputs {info.input_shape}")
    channels, size, _ = info.input_shape
    return {"in_chans": channels, "img_size": size, "num_classes": info.num_classes}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import SequencerConfig

    return [ModelSpec("sequencer", SequencerConfig, _build, example_inputs=_example_inputs, from_task=_from_task,
                      count_params=_count_params)]
