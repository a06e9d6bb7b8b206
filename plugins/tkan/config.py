"""TKANConfig: the typed config of `tkan` (TKAN: Temporal Kolmogorov-Arnold Networks, arXiv:2405.07344)."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from zoo.config import Config, Field
from zoo_plugins.kan.config import check_float32_knots


class TKANConfig(Config):
    input_dim: int = Field(1, ge=1, le=100_000, description="features per time step of the input series")
    hidden: list[int] = Field(
        [100, 100], description="units of each stacked TKAN layer (paper's experiments: two layers of 100)")
    output_dim: int = Field(
        1, ge=1, le=100_000, description="forecast horizon: values the linear head predicts from the last hidden state")
    sub_kan_orders: list[int] = Field(
        [0, 1, 2, 3, 4],
        description="B-spline order k of each RKAN sub-layer, one sub-layer per entry (authors' package: 0..4)")
    sub_kan_dim: int | None = Field(
        None, ge=1, le=100_000,
        description="input and output width of every RKAN sub-layer (None: the TKAN layer's input width, as the authors' package)")
    grid: int = Field(3, ge=1, le=1000, description="grid intervals G of every sub-layer spline (authors' package: 3)")
    grid_range: tuple[float, float] = Field((-1.0, 1.0), description="initial spline grid interval [low, high]")

    @field_validator("hidden")
    @classmethod
    def _hidden(cls, hidden: list[int]) -> list[int]:
        if not hidden or any(h < 1 for h in hidden):
            raise ValueError(f"hidden needs at least one layer of >= 1 units, e.g. [100, 100]; got {hidden}")
        return hidden

    @field_validator("sub_kan_orders")
    @classmethod
    def _orders(cls, orders: list[int]) -> list[int]:
        if not orders or any(not 0 <= k <= 10 for k in orders):
            raise ValueError(f"sub_kan_orders needs at least one spline order in 0..10, e.g. [0, 1, 2, 3, 4]; got {orders}")
        return orders

    @model_validator(mode="after")
    def _range(self) -> "TKANConfig":
        check_float32_knots(self.grid_range, self.grid, max(self.sub_kan_orders))
        return self
