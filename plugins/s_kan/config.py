"""SKANConfig: the typed config of `s-kan` (Yang et al., 2024, arXiv:2408.08338)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from zoo.config import Config, Field
from zoo_plugins.kan.config import MAX_NOISE_SCALE, check_float32_knots

Space = Literal["bspline", "rbf", "rswaf", "chebyshev", "jacobi", "relu"]


class SKANConfig(Config):
    width: list[int] = Field([2, 5, 1], description="nodes per layer, input first")
    spaces: list[Space] = Field(
        ["bspline", "rbf", "rswaf", "chebyshev", "jacobi", "relu"],
        description="activation spaces each node selects among (one entry = a single-space KAN)",
    )
    grid: int = Field(5, ge=1, le=1000, description="grid intervals G; every space has G + k basis functions")
    k: int = Field(3, ge=0, le=10, description="B-spline order k (also sets the G + k functions of the other spaces)")
    grid_range: tuple[float, float] = Field((-1.0, 1.0), description="input interval the grids and centres span")
    noise_scale: float = Field(0.1, ge=0.0, le=MAX_NOISE_SCALE, description="std of the initial basis coefficients")

    @field_validator("width")
    @classmethod
    def _widths(cls, width: list[int]) -> list[int]:
        if len(width) < 2 or any(w < 1 for w in width):
            raise ValueError(f"width needs at least 2 layers of >= 1 nodes, e.g. [2, 5, 1]; got {width}")
        return width

    @field_validator("spaces")
    @classmethod
    def _spaces(cls, spaces: list[str]) -> list[str]:
        if not spaces or len(set(spaces)) != len(spaces):
            raise ValueError(f"spaces must be a non-empty list without repeats, got {spaces}")
        return spaces

    @model_validator(mode="after")
    def _range(self) -> "SKANConfig":
        check_float32_knots(self.grid_range, self.grid, self.k)
        support = (self.k + 1) * (self.grid_range[1] - self.grid_range[0]) / self.grid
        if "relu" in self.spaces and not 1e-9 <= support <= 1e9:
            raise ValueError(f"grid_range={tuple(self.grid_range)} with grid={self.grid}, k={self.k} gives the relu space "
                             f"supports {support:.3g} wide; its ((e - x)(x - s))^2 * 16 / (e - s)^4 stays finite in "
                             f"float32 only for supports from 1e-9 to 1e9")
        return self
