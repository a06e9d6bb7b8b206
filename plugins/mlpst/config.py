"""MLPSTConfig: the typed config of `mlpst` (Zhang et al., "MLPST: MLP is All You Need for
Spatio-Temporal Prediction", CIKM 2023): the grid and its closeness / period / trend inputs, the
patches the grid is cut into, and the widths of the spatial, temporal and channel MLPs."""

from __future__ import annotations

from pydantic import model_validator

from zoo.config import Config, Field


class MLPSTConfig(Config):
    height: int = Field(16, ge=1, le=1024, description="grid rows (BikeNYC's 16 x 8 by default)")
    width: int = Field(8, ge=1, le=1024, description="grid columns")
    channels: int = Field(2, ge=1, le=64, description="flow channels per cell (inflow, outflow)")
    closeness: int = Field(3, ge=1, le=48, description="lc, recent steps in the input (ST-ResNet's 3)")
    period: int = Field(1, ge=0, le=14, description="lp, same-time steps of previous days")
    trend: int = Field(1, ge=0, le=4, description="lt, same-time steps of previous weeks")
    patch_size: int = Field(4, ge=1, le=64, description="side of the square patches the grid is cut into (tokens)")
    hidden_dim: int = Field(32, ge=1, le=4096, description="d, the width of a patch token")
    mlp_ratio: float = Field(2.0, gt=0.0, le=16.0, description="hidden width of each MLP as a multiple of its input")
    layers: int = Field(1, ge=1, le=32, description="spatial mixing blocks (local + global + channel MLPs)")

    @model_validator(mode="after")
    def _patches_tile_the_grid(self) -> "MLPSTConfig":
        if self.height % self.patch_size or self.width % self.patch_size:
            raise ValueError(f"patch_size={self.patch_size} must divide the grid {self.height} x {self.width}")
        return self

    @property
    def steps(self) -> int:
        return self.closeness + self.period + self.trend
