"""PaperZoo plugin for MLP-Mixer: An all-MLP Architecture for Vision (Tolstikhin et al., 2021,
arXiv:2105.01601). Importing this module is cheap; torch is imported when the model is built."""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import MLPMixer

    return MLPMixer(config)


def _count_params(config) -> int:
    """Elements of timm's MlpMixer for the config (the size check reads this instead of a meta
    build): the patch stem, per block two LayerNorms and the token and channel MLPs, the final
    norm and the head."""
    c, patches = config.hidden_dim, (config.img_size // config.patch_size) ** 2
    tokens, channels = int(config.token_mlp_ratio * c), int(config.channel_mlp_ratio * c)
    stem = c * config.in_chans * config.patch_size**2 + c
    block = 4 * c + (2 * patches * tokens + tokens + patches) + (2 * c * channels + channels + c)
    return stem + config.num_blocks * block + 2 * c + c * config.num_classes + config.num_classes


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.in_chans, config.img_size, config.img_size),)


def _from_task(values: dict, info) -> dict:
    """Input channels, image size and classes from an image-classification task."""
    if info.kind != "classification" or len(info.input_shape) != 3 or info.input_shape[1] != info.input_shape[2]:
        raise ValueError(f"mlp-mixer needs a classification task with square images (C, H, H); "
                         f"got a {info.kind} task with inputs {info.input_shape}")
    channels, size, _ = info.input_shape
    return {"in_chans": channels, "img_size": size, "num_classes": info.num_classes}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import MLPMixerConfig

    return [ModelSpec("mlp-mixer", MLPMixerConfig, _build, example_inputs=_example_inputs, from_task=_from_task,
                      count_params=_count_params)]
