"""NBeatsConfig: the typed config of `nbeats`, with the N-BEATS paper's defaults (Oreshkin,
Carpov, Chapados and Bengio, 2019, arXiv:1905.10437). The default is N-BEATS-G (generic); the
`interpretable` variant is N-BEATS-I (paper Table 18)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field
from zoo.limits import shown

StackType = Literal["generic", "trend", "seasonality"]


class NBeatsConfig(Config):
    input_size: int = Field(36, ge=1, le=100000, description="lookback window L (paper: 2H to 7H)")
    horizon: int = Field(18, ge=1, le=100000, description="forecast horizon H (M4 monthly: 18)")
    stack_types: list[StackType] = Field(
        ["generic"] * 30, description="basis of each stack, input first (N-BEATS-G: 30 generic; N-BEATS-I: trend, seasonality)")
    blocks_per_stack: int = Field(1, ge=1, le=1000, description="blocks K in every stack (N-BEATS-G: 1, N-BEATS-I: 3)")
    layer_widths: list[int] = Field(
        [512] * 30, description="hidden units of the FC layers of each stack's blocks (G: 512; I: 256 trend, 2048 seasonality)")
    num_layers: int = Field(4, ge=1, le=64, description="fully connected ReLU layers per block (paper: 4)")
    share_weights_in_stack: bool = Field(False, description="all blocks of a stack share one set of weights (N-BEATS-I: yes)")
    generic_theta_dim: int = Field(32, ge=1, le=100000, description="size of theta^b and theta^f in generic blocks (a linear bottleneck before V^b, V^f)")
    trend_degree: int = Field(3, ge=0, le=10, description="polynomial degree p of the trend basis [1, t, ..., t^p] (paper: small, 2 or 3)")

    @model_validator(mode="after")
    def _one_width_per_stack(self) -> "NBeatsConfig":
        if len(self.stack_types) < 1:
            raise ValueError("stack_types needs at least one stack")
        if len(self.layer_widths) != len(self.stack_types) or min(self.layer_widths, default=0) < 1:
            raise ValueError(f"layer_widths needs one positive width per stack: stack_types has "
                             f"{len(self.stack_types)} stacks, layer_widths={shown(self.layer_widths)}")
        if "seasonality" in self.stack_types and self.horizon < 2:
            raise ValueError(f"a seasonality stack needs horizon >= 2 (harmonics up to H/2 - 1), got {self.horizon}")
        return self
