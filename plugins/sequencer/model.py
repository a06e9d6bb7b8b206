"""Sequencer2D: Deep LSTM for Image Classification (Tatsunami & Taki, 2022, arXiv:2205.01972).

An image is cut into patches by a strided convolution (the stem), giving a grid X of H x W tokens of
C channels. Each Sequencer2D block replaces a ViT block's self-attention by the BiLSTM2D layer and
keeps the channel MLP, both with pre-LayerNorm and a skip connection (paper Sec. 3, Fig. 2):

    Y = BiLSTM2D(LN(X)) + X,        Z = MLP(LN(Y)) + Y

where BiLSTM2D (paper Sec. 3.2, Fig. 2c) runs one BiLSTM down every column and one along every row,
each with hidden size D per direction, concatenates the vertical and horizontal outputs (4D channels)
and maps them back to C by a point-wise fully connected layer:

    H_ver = BiLSTM(columns of X),  H_hor = BiLSTM(rows of X),  Y = FC(concat(H_ver, H_hor)).

Stages are separated by patch-merging convolutions; the head is LayerNorm, global average pooling
and a linear classifier.

The network is timm's `Sequencer2d` (its `LSTM2d`, `Sequencer2dBlock`, `Sequencer2dStage`),
configured from the typed config, so its state dict loads strictly into timm's
`sequencer2d_s/m/l` and gives the same outputs (tests/plugins/test_sequencer.py). What this class
adds is the typed config and input checks that name the expected shape.

Departures from the paper:
- Initialisation is timm's (LSTM weights uniform in +-1/sqrt(D) as PyTorch's default, Xavier-uniform
  linear layers, LeCun-normal stem, zero head), the one the authors' code also takes from timm.
- The small `digits` variant (8x8 grey images, one stage: patch 2, C = 52, D = 13, 4 blocks) is this
  zoo's, sized for CPU; it changes only config values (D = C/4 and MLP ratio 3 as in the paper).
"""

from __future__ import annotations

import torch
from timm.models.sequencer import Sequencer2d

from zoo_plugins.mlp_mixer.model import check_images

from .config import SequencerConfig

__all__ = ["Sequencer2D"]


class Sequencer2D(Sequencer2d):
    """Sequencer2D classifier built from a `SequencerConfig`: (batch, C_in, H, W) -> (batch, classes) logits."""

    def __init__(self, config: SequencerConfig):
        super().__init__(
            num_classes=config.num_classes,
            img_size=config.img_size,
            in_chans=config.in_chans,
            layers=config.layers,
            patch_sizes=config.patch_sizes,
            embed_dims=config.embed_dims,
            hidden_sizes=config.hidden_sizes,
            mlp_ratios=config.mlp_ratios,
            num_rnn_layers=config.num_rnn_layers,
            bidirectional=config.bidirectional,
            union=config.union,
            with_fc=config.with_fc,
            drop_rate=config.drop_rate,
            drop_path_rate=config.drop_path_rate,
        )
        self.config = config

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, self.config.in_chans, self.config.img_size, "sequencer")
        return super().forward(x)
