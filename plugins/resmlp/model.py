"""ResMLP: Feedforward networks for image classification with data-efficient training
(Touvron et al., 2021, arXiv:2105.03404).

Patches of P x P pixels are linearly projected to d channels (X: N patches x d), then each of the
L residual layers applies (paper Eq. 1-2)

    Z = X + diag(ls1) A Aff(X)                      cross-patch linear layer A (N x N), per channel
    Y = Z + diag(ls2) C gelu(B Aff(Z))              per-patch MLP, hidden width 4d

with the affine "normalisation" Aff(x) = alpha * x + beta (no statistics: alpha = 1, beta = 0 at
init) and LayerScale vectors ls initialised to a small constant that shrinks with depth (0.1 for
12 layers, 1e-5 for 24, 1e-6 for 36). The head is Aff, average pooling over patches and a linear
classifier.

The network is timm's `MlpMixer` with timm's `ResBlock` and `Affine` layers, so its state dict loads
strictly into timm's `resmlp_*` models and gives the same outputs (checked in
tests/plugins/test_resmlp.py). Initialisation follows the authors' code (facebookresearch/deit,
resmlp_models.py): every linear layer truncated-normal with std 0.02 and zero bias, the patch
projection PyTorch's default, instead of timm's Xavier init with a zero head.

Departures from the paper:
- The small `digits` variant (8x8 grey images, patch 2, d = 64, 4 layers) is this zoo's, sized for
  CPU; it changes only config values, never the structure.
- ResMLP-B24 with 16x16 patches uses LayerScale 1e-6 like the authors' only B-width model (B24/8);
  the paper states the init per depth for the S models only.
- Distillation (the paper's "+distillation" rows) is a training method, not part of the network.
"""

from __future__ import annotations

from functools import partial

import torch
from timm.layers import trunc_normal_
from timm.models.mlp_mixer import Affine, MlpMixer, ResBlock
from torch import nn

from zoo_plugins.mlp_mixer.model import check_images

from .config import ResMLPConfig

__all__ = ["ResMLP"]


class ResMLP(MlpMixer):
    """ResMLP classifier built from a `ResMLPConfig`: (batch, C_in, H, W) -> (batch, classes) logits."""

    def __init__(self, config: ResMLPConfig):
        super().__init__(
            num_classes=config.num_classes,
            img_size=config.img_size,
            in_chans=config.in_chans,
            patch_size=config.patch_size,
            num_blocks=config.num_blocks,
            embed_dim=config.hidden_dim,
            mlp_ratio=config.mlp_ratio,
            block_layer=partial(ResBlock, init_values=config.layerscale_init),
            norm_layer=Affine,
            proj_drop_rate=config.dropout,
            drop_path_rate=config.drop_path_rate,
        )
        self.config = config
        self.apply(_init_as_the_authors)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.config.in_chans, self.config.img_size, "resmlp")
        return super().forward(x)


def _init_as_the_authors(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Conv2d):
        module.reset_parameters()
