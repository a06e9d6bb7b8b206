"""SNNKConfig: the typed config of `snnk` (Sehanobish et al., ICLR 2024, arXiv:2310.13225): a network
whose hidden feed-forward layer f(W x + b) is an SNNK layer phi(x)^T Psi(W, b) with m universal
random features, followed by a linear read-out; `layer="regular"` builds the feed-forward network
it replaces."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class SNNKConfig(Config):
    input_dim: int = Field(64, ge=1, le=100000, description="input features d (inputs are flattened)")
    output_dim: int = Field(10, ge=1, le=100000, description="outputs: classes or regression targets")
    hidden_dim: int = Field(64, ge=1, le=16384, description="units of the replaced feed-forward layer")
    activation: Literal["cos", "sin", "exp"] = Field(
        "cos", description="f of the feed-forward layer f(W x + b); these have closed-form URFs")
    layer: Literal["snnk", "regular"] = Field(
        "snnk", description="'snnk': phi(x)^T A with A (m x hidden) trained, A = Psi(W0, b0) at the start; "
                            "'regular': the feed-forward layer f(W x + b) itself")
    features: int = Field(16, ge=1, le=65536, description="m, the number of random features of phi")
    input_scale: float = Field(
        0.0, ge=0.0, le=100.0,
        description="x is multiplied by this before the layer (phi's variance grows as exp(|x|^2)); 0: 1/sqrt(d)")
    weight_std: float = Field(
        0.5, gt=0.0, le=10.0, description="std of the initial W0 (entries N(0, weight_std^2 / d)) and b0")
