"""MultistageNetConfig: the typed config of the `multistage-net` composite model, with the sizes of
Wang & Lai (2023, arXiv:2307.08934): every stage a 3-hidden-layer tanh network of width 20, in float64."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class MultistageNetConfig(Config):
    in_features: int = Field(1, ge=1, le=64, description="input dimensions d of the fitted function")
    out_features: int = Field(1, ge=1, le=64, description="output values of the fitted function")
    stages: int = Field(4, ge=1, le=16, description="networks u_0 ... u_{n-1} summed with their scales (paper: 4)")
    hidden_dim: int = Field(20, ge=1, le=4096, description="width of every hidden layer of every stage (paper: 20)")
    hidden_layers: int = Field(3, ge=1, le=32, description="hidden layers per stage network (paper: 3)")
    later_activation: Literal["sin", "tanh"] = Field("sin", description=(
        "activation of the first hidden layer of stages 2, 3, ... (sin: the paper's choice for the high-frequency "
        "residues; stage 1 and all other hidden layers use tanh)"))
    dtype: Literal["float64", "float32"] = Field("float64", description=(
        "parameter dtype (float64: machine precision is the goal; float32 stalls near 1e-7)"))
