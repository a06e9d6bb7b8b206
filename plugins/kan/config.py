"""KANConfig: the typed config of `kan`, with the KAN paper's defaults (arXiv:2404.19756)."""

from __future__ import annotations

import math

from pydantic import field_validator, model_validator

from zoo.config import Config, Field

# Largest std of the initial coefficients: the initial outputs, summed over a wide layer and squared
# in a loss, stay finite in float32 (the paper uses 0.1; 1e308 made every output infinite).
MAX_NOISE_SCALE = 1e6
_FLOAT32_MAX = 3.4028234663852886e38
_FLOAT32_RESOLUTION = 2.0**-20  # adjacent knots at least 16 float32 ulps apart


def check_float32_knots(grid_range: tuple[float, float], grid: int, k: int, field: str = "grid_range") -> None:
    """ValueError unless `grid_range` gives G + 2k + 1 increasing knots that float32 holds finite and
    distinct (the spline grids are float32 buffers; the uniform grid is extended by k steps a side)."""
    low, high = grid_range
    if not low < high:
        raise ValueError(f"{field} must be (low, high) with low < high, got {tuple(grid_range)}")
    step = (high - low) / grid
    first, last = low - k * step, high + k * step
    magnitude = max(abs(first), abs(last))
    if not (math.isfinite(step) and magnitude < _FLOAT32_MAX and step >= _FLOAT32_RESOLUTION * magnitude):
        raise ValueError(f"{field}={tuple(grid_range)} with grid={grid}, k={k} puts the knots from {first:.4g} to "
                         f"{last:.4g} {step:.4g} apart, which float32 cannot hold finite and distinct (needs "
                         f"|knots| < 3.4e38 and a spacing of at least {_FLOAT32_RESOLUTION:.2g} x their magnitude)")


class KANConfig(Config):
    width: list[int] = Field([2, 5, 1], description="nodes per layer, input first (the paper's [n_0, ..., n_L])")
    grid: int = Field(5, ge=1, le=1000, description="grid intervals G of every spline")
    k: int = Field(3, ge=0, le=10, description="spline order k (3 = cubic, as in the paper)")
    grid_range: tuple[float, float] = Field((-1.0, 1.0), description="initial grid interval [low, high]")
    noise_scale: float = Field(0.1, ge=0.0, le=MAX_NOISE_SCALE, description="std sigma of the initial spline coefficients (paper: 0.1)")
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
        check_float32_knots(self.grid_range, self.grid, self.k)
        return self
