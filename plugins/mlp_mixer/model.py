"""MLP-Mixer: An all-MLP Architecture for Vision (Tolstikhin et al., 2021, arXiv:2105.01601).

An image is cut into S non-overlapping P x P patches, each projected to C channels by one shared
linear map (the "per-patch fully-connected" stem), giving a table X of S rows and C columns. Each
Mixer layer then applies two MLPs with pre-LayerNorm and skip connections (paper Eq. 1):

    U = X + W2 gelu(W1 LayerNorm(X)^T)^T          token mixing, shared across channels (width D_S)
    Y = U + W4 gelu(W3 LayerNorm(U))              channel mixing, shared across patches (width D_C)

and the head is LayerNorm, global average pooling over patches and a linear classifier.

The network is timm's `MlpMixer` (its `PatchEmbed`, `MixerBlock`, `Mlp`), configured from the
typed config, so its state dict loads strictly into timm's model and both give the same outputs
(tests/plugins/test_mlp_mixer.py checks this for the named variants against timm's registered
`mixer_*` models). What this class adds is the typed config and input checks that name the
expected shape.

Departures from the paper:
- Initialisation is timm's (Xavier-uniform linear layers, zero-initialised head as in the official
  JAX code), not Flax's LeCun-normal defaults: a different draw from a similar scale; it only
  matters for training from scratch, and keeps weights interchangeable with timm.
- D_S and D_C are given as multiples of C (`token_mlp_ratio`, `channel_mlp_ratio`), as timm does.
  Every variant in the paper has D_S = C/2 and D_C = 4C, so the named variants are exact.
- The small `digits` variant (8x8 grey images, patch 2, C = 64, 4 layers) is this zoo's, sized for
  CPU; it changes only config values, never the structure.
"""

from __future__ import annotations

import torch
from timm.models.mlp_mixer import MlpMixer

from .config import MLPMixerConfig

__all__ = ["MLPMixer", "check_images"]


def check_images(x: torch.Tensor, channels: int, size: int, model: str) -> None:
    """Refuse anything but a float batch (batch, channels, size, size), naming what was expected."""
    expected = f"(batch, {channels}, {size}, {size})"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{model} expects a tensor of shape {expected}, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{model} expects a floating-point image batch of shape {expected}, got dtype {x.dtype}")
    if x.dim() != 4 or tuple(x.shape[1:]) != (channels, size, size):
        raise ValueError(f"{model} expects images of shape {expected}, got {tuple(x.shape)}")


class MLPMixer(MlpMixer):
    """MLP-Mixer classifier built from a `MLPMixerConfig`: (batch, C_in, H, W) -> (batch, classes) logits."""

    def __init__(self, config: MLPMixerConfig):
        super().__init__(
            num_classes=config.num_classes,
            img_size=config.img_size,
            in_chans=config.in_chans,
            patch_size=config.patch_size,
            num_blocks=config.num_blocks,
            embed_dim=config.hidden_dim,
            mlp_ratio=(config.token_mlp_ratio, config.channel_mlp_ratio),
            drop_rate=config.dropout,
            drop_path_rate=config.drop_path_rate,
        )
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.config.in_chans, self.config.img_size, "mlp-mixer")
        return super().forward(x)
