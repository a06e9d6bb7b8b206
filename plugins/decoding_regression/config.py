"""DecodingRegressionConfig: the typed config of `decoding-regression` (Song and Bahri,
Decoding-based Regression, 2025, arXiv:2501.19383): an MLP encoder of the features, then either
a small causal transformer decoder that emits the target as digit tokens (trained with cross
entropy), or, as the baseline the paper compares with, a linear MSE head on the same encoder."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field


class DecodingRegressionConfig(Config):
    d_in: int = Field(8, ge=1, le=10000, description="numerical input features")
    head: Literal["decoder", "mse"] = Field(
        "decoder", description="decoder: digit tokens from a causal transformer (cross entropy); mse: a linear "
                               "point-prediction head trained with the MSE (the baseline)")
    encoder_layers: int = Field(2, ge=1, le=16, description="hidden ReLU layers of the feature encoder")
    encoder_dim: int = Field(256, ge=1, le=8192, description="width of the encoder's hidden layers")
    tokenization: Literal["normalized", "unnormalized"] = Field(
        "normalized", description="normalized: y min-max scaled to [0, 1] and written as `digits` base-B digits; "
                                  "unnormalized: sign, exponent sign, exponent digits, then mantissa digits")
    base: int = Field(10, ge=2, le=64, description="B, the base of the digit tokens")
    digits: int = Field(4, ge=1, le=12, description="normalized: digits after the point (B^digits bins)")
    mantissa_digits: int = Field(4, ge=1, le=12, description="unnormalized: mantissa digits m_1.m_2...")
    exponent_digits: int = Field(1, ge=1, le=3, description="unnormalized: digits of |exponent| (base B)")
    target_low: float = Field(-4.0, ge=-1e12, le=1e12,
                              description="normalized: the value mapped to 0 (the training minimum)")
    target_high: float = Field(4.0, ge=-1e12, le=1e12,
                               description="normalized: the value mapped to 1 (the training maximum)")
    d_model: int = Field(64, ge=4, le=2048, description="decoder width")
    decoder_layers: int = Field(2, ge=1, le=24, description="decoder transformer layers")
    heads: int = Field(4, ge=1, le=64, description="decoder attention heads")
    samples: int = Field(64, ge=1, le=4096,
                         description="sampled token sequences per input whose mean gives the point prediction")
    temperature: float = Field(1.0, gt=0.0, le=10.0, description="sampling temperature")

    @model_validator(mode="after")
    def _consistent(self) -> "DecodingRegressionConfig":
        if not self.target_low < self.target_high:
            raise ValueError(f"target_low ({self.target_low}) must be below target_high ({self.target_high})")
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        return self
