"""XNetConfig: the typed config of `xnet` (Li, Xia & Zheng, 2024, arXiv:2410.02033)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from zoo.config import Config, Field

# Initial lambda_1, lambda_2 and d are float32 parameters. With |lambda| <= 1e6 and 1e-6 <= d <= 1e6 the
# largest initial activation, |lambda_2| / d^2 at z = 0, is 1e18: finite, and finite once squared in
# a loss (1e308 could not even be stored).
MAX_LAMBDA, MIN_D, MAX_D = 1e6, 1e-6, 1e6


class XNetConfig(Config):
    width: list[int] = Field(
        [2, 64, 1],
        description="nodes per layer, input first; one hidden layer of Cauchy neurons is the paper's XNet",
    )
    # The papers do not state an initialisation we could read. "spread" places the first layer's
    # Cauchy nodes like the nodes of a discretised Cauchy integral: equally spaced over the input
    # range, each kernel as wide as the spacing, so at the start the neurons tile the domain.
    init: Literal["spread", "constant"] = Field(
        "spread",
        description="first hidden layer: 'spread' = unit-norm random directions w, nodes (w.x = c) equally "
                    "spaced over init_range, d = the nodes' spacing; 'constant' = PyTorch's default Linear init "
                    "and d = init_d")
    init_range: tuple[float, float] = Field(
        (-1.0, 1.0), description="input interval the 'spread' init tiles with the first layer's nodes")
    init_lambda1: float = Field(1.0, ge=-MAX_LAMBDA, le=MAX_LAMBDA, description="initial lambda_1 of every Cauchy neuron (odd part x / (x^2 + d^2))")
    init_lambda2: float = Field(1.0, ge=-MAX_LAMBDA, le=MAX_LAMBDA, description="initial lambda_2 of every Cauchy neuron (even part 1 / (x^2 + d^2))")
    init_d: float | None = Field(
        None, ge=MIN_D, le=MAX_D,
        description="initial d of the Cauchy neurons (width of the kernel, > 0); None = the nodes' spacing "
                    "(range length / N) in the first layer under init='spread', and 1 elsewhere")

    @field_validator("width")
    @classmethod
    def _widths(cls, width: list[int]) -> list[int]:
        if len(width) < 3 or any(w < 1 for w in width):
            raise ValueError(
                f"width needs an input, at least one hidden layer and an output, each >= 1 node, "
                f"e.g. [2, 64, 1]; got {width}")
        return width

    @field_validator("init_range")
    @classmethod
    def _range(cls, init_range: tuple[float, float]) -> tuple[float, float]:
        low, high = init_range
        if not (-MAX_D <= low < high <= MAX_D):
            raise ValueError(f"init_range needs low < high within +-{MAX_D:g}, e.g. (-1, 1); got {init_range}")
        return init_range
