"""FANConfig: the typed config of `fan`, with the defaults of Dong et al. (2024, arXiv:2410.02675):
width 2048, 3 layers, d_p = d/4, GELU, as in the paper's periodicity-modelling experiments."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class FANConfig(Config):
    in_features: int = Field(1, ge=1, le=100000, description="input features")
    out_features: int = Field(1, ge=1, le=100000, description="output features")
    hidden_dim: int = Field(2048, ge=2, le=1000000, description="output width d of every FAN layer")
    num_layers: int = Field(3, ge=2, le=1000, description="layers L: L - 1 FAN layers, then a linear output layer")
    p_ratio: float = Field(
        0.25, ge=0.0, lt=0.5,
        description="d_p / d: share of each cos and sin part (0.25: cos, sin and the activation part take d/4, d/4, d/2); 0 gives an MLP")
    activation: Literal["gelu", "relu", "tanh", "silu"] = Field(
        "gelu", description="sigma of the non-periodic part")
    p_bias: bool = Field(
        False, description="add a bias inside cos/sin (the authors' code does; the paper's formula has none)")
