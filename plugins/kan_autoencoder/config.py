"""KANAutoencoderConfig: the typed config of `kan-autoencoder` (Kolmogorov-Arnold Network Autoencoders)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from zoo.config import Config, Field
from zoo_plugins.kan.config import check_float32_knots


class KANAutoencoderConfig(Config):
    input_shape: list[int] = Field(
        [1, 8, 8], description="shape of one input sample, e.g. [channels, height, width]; it is flattened")
    hidden: int = Field(32, ge=1, le=100_000, description="width of the KAN layer's output in the encoder (and input in the decoder)")
    latent_dim: int = Field(8, ge=1, le=100_000, description="size of the bottleneck code z")
    grid: int = Field(5, ge=1, le=1000, description="grid intervals G of every KAN spline")
    k: int = Field(3, ge=0, le=10, description="spline order k (3 = cubic)")
    grid_range: tuple[float, float] = Field((-1.0, 1.0), description="initial spline grid interval [low, high]")
    output_activation: Literal["sigmoid", "none"] = Field(
        "sigmoid", description="activation on the reconstruction: sigmoid for data in [0, 1], none for unbounded data")

    @field_validator("input_shape")
    @classmethod
    def _shape(cls, shape: list[int]) -> list[int]:
        if not shape or any(s < 1 for s in shape):
            raise ValueError(f"input_shape needs at least one dimension, all >= 1, e.g. [1, 8, 8]; got {shape}")
        return shape

    @model_validator(mode="after")
    def _range(self) -> "KANAutoencoderConfig":
        check_float32_knots(self.grid_range, self.grid, self.k)
        return self
