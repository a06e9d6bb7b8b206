"""SequencerConfig: the typed config of `sequencer`, with the paper's defaults (arXiv:2205.01972).

The defaults are Sequencer2D-S at 224x224 on ImageNet-1k (the paper's model table: stage
depths 4, 3, 8, 3; patch sizes 7, 2, 1, 1; channels C 192, 384, 384, 384; BiLSTM hidden size D = C/4;
MLP ratio 3). The named variants (m, l and a small one for 8x8 digits) are catalog presets.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field


class SequencerConfig(Config):
    img_size: int = Field(224, ge=1, le=4096, description="input height = width in pixels; the product of patch_sizes must divide it")
    in_chans: int = Field(3, ge=1, le=256, description="input channels")
    num_classes: int = Field(1000, ge=1, le=100_000, description="classes of the linear head")
    layers: tuple[int, ...] = Field((4, 3, 8, 3), min_length=1, max_length=16,
                                    description="Sequencer2D blocks per stage (paper, S: 4, 3, 8, 3)")
    patch_sizes: tuple[int, ...] = Field((7, 2, 1, 1), min_length=1, max_length=16,
                                         description="patch size of the stem (first) and of each stage's downsampling")
    embed_dims: tuple[int, ...] = Field((192, 384, 384, 384), min_length=1, max_length=16,
                                        description="channels C of each stage")
    hidden_sizes: tuple[int, ...] = Field((48, 96, 96, 96), min_length=1, max_length=16,
                                          description="hidden size D of each direction of every LSTM (paper: D = C/4)")
    mlp_ratios: tuple[float, ...] = Field((3.0, 3.0, 3.0, 3.0), min_length=1, max_length=16,
                                          description="channel MLP width as a multiple of C, per stage (paper: 3)")
    union: Literal["cat", "add", "vertical", "horizontal"] = Field(
        "cat", description="how the vertical and horizontal BiLSTM outputs combine: concatenate (Sequencer2D), "
                           "add, or one direction only (the paper's ablations)")
    with_fc: bool = Field(True, description="the point-wise fully connected layer after the union (end of the "
                                            "BiLSTM2D layer); without it the union must already have C channels")
    bidirectional: bool = Field(True, description="bidirectional LSTMs (the paper's BiLSTM); False: forward only")
    num_rnn_layers: int = Field(1, ge=1, le=8, description="stacked LSTM layers inside each direction")
    drop_rate: float = Field(0.0, ge=0.0, lt=1.0, description="dropout before the linear head")
    drop_path_rate: float = Field(0.0, ge=0.0, lt=1.0, description="stochastic depth of every block (a training "
                                                                   "choice; timm's default 0)")

    @model_validator(mode="after")
    def _stages_fit(self) -> "SequencerConfig":
        per_stage = {"layers": self.layers, "patch_sizes": self.patch_sizes, "embed_dims": self.embed_dims,
                     "hidden_sizes": self.hidden_sizes, "mlp_ratios": self.mlp_ratios}
        lengths = {name: len(values) for name, values in per_stage.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"layers, patch_sizes, embed_dims, hidden_sizes and mlp_ratios need one entry per "
                             f"stage each; got lengths {lengths}")
        for name in ("layers", "patch_sizes", "embed_dims", "hidden_sizes"):
            if any(v < 1 or v > 65_536 for v in per_stage[name]):
                raise ValueError(f"{name}={per_stage[name]}: every entry must be in [1, 65536]")
        if any(not 0.0 < r <= 64.0 or int(r * c) < 1 for r, c in zip(self.mlp_ratios, self.embed_dims)):
            raise ValueError(f"mlp_ratios={self.mlp_ratios}: each must be in (0, 64] and leave the MLP a hidden unit")
        reduction = math.prod(self.patch_sizes)
        if self.img_size % reduction:
            raise ValueError(f"the patch sizes {self.patch_sizes} reduce the image by {reduction}, which must divide "
                             f"img_size={self.img_size} (for 8x8 digits use variant='digits')")
        if not self.with_fc:
            directions = 2 if self.bidirectional else 1
            for c, d in zip(self.embed_dims, self.hidden_sizes):
                out = d * directions * (2 if self.union == "cat" else 1)
                if out != c:
                    raise ValueError(f"with_fc=False needs the union to give C channels: union={self.union!r} of "
                                     f"hidden size {d} gives {out}, C is {c}")
        return self
