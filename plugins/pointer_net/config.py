"""PointerNetConfig: the typed config of `pointer-net`, with the Pointer Networks paper's
defaults (Vinyals, Fortunato and Jaitly, 2015, arXiv:1506.03134)."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class PointerNetConfig(Config):
    input_dim: int = Field(2, ge=1, le=4096, description="features per input element (2 for planar points)")
    hidden_size: int = Field(256, ge=1, le=8192, description="LSTM units of encoder and decoder (paper: 256 or 512)")
    num_layers: int = Field(1, ge=1, le=16, description="stacked LSTM layers (paper: a single layer)")
    decoder: Literal["pointer", "attention"] = Field(
        "pointer",
        description="pointer: attention weights are the output (Ptr-Net, Eq. 3); attention: the paper's "
                    "seq2seq+attention baseline, a softmax over a fixed dictionary of positions",
    )
    max_positions: int = Field(
        50, ge=1, le=100000,
        description="output dictionary size of the attention baseline (positions it can name); unused by the pointer",
    )
    init_scale: float = Field(0.08, gt=0.0, le=1.0, description="weights start uniform in [-init_scale, init_scale] (paper: 0.08)")
