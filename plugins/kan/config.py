"""KANConfig: the typed config of `kan`, with the KAN paper's defaults (arXiv:2404.19756)."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from zoo.config import Config, Field


class KANConfig(Config):
    width: list[int] = Field([2, 5, 1], description="nodes per layer, input first (the paper's [n_0, ..., n_L])")
    grid: int = Field(5, ge=1, le=1000, description="grid intervals G of every spline")
    k: int = Field(3, ge=0, le=10, description="spline order k (3 = cubic, as in the paper)")
    grid_range: tuple[float, float] = Field((-1.0, 1.0), description="initial grid interval [low, high]")
    noise_scale: float = Field(0.1, ge=0.0, description="std sigma of the initial spline coefficients (paper: 0.1)")
    grid_eps: float = Field(
        0.02, ge=0.0, le=1.0,
        description="grid update blend: 0 = knots at sample quantiles, 1 = uniform over the sample range",
    )

    @field_validator("width")
    @classmethod
    def _widths(cls, width: list[int]) -> list[int]:
        if len(width) < 2 or any(w < 1 for w in width):
            raise ValueError(f"width needs at least 2 layers of >= 1 nodes, e.g. [2, 5, 1]; got {width}")
        return width

    @model_validator(mode="after")
    def _range(self) -> "KANConfig":
        low, high = self.grid_range
        if not low < high:
            raise ValueError(f"grid_range must be (low, high) with low < high, got {self.grid_range}")
        return self
