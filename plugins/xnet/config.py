"""XNetConfig: the typed config of `xnet` (Li, Xia & Zheng, 2024, arXiv:2410.02033)."""

from __future__ import annotations

from pydantic import field_validator

from zoo.config import Config, Field


class XNetConfig(Config):
    width: list[int] = Field(
        [2, 64, 1],
        description="nodes per layer, input first; one hidden layer of Cauchy neurons is the paper's XNet",
    )
    init_lambda1: float = Field(1.0, description="initial lambda_1 of every Cauchy neuron (odd part x / (x^2 + d^2))")
    init_lambda2: float = Field(1.0, description="initial lambda_2 of every Cauchy neuron (even part 1 / (x^2 + d^2))")
    init_d: float = Field(1.0, gt=0.0, description="initial d of every Cauchy neuron (width of the kernel, > 0)")

    @field_validator("width")
    @classmethod
    def _widths(cls, width: list[int]) -> list[int]:
        if len(width) < 3 or any(w < 1 for w in width):
            raise ValueError(
                f"width needs an input, at least one hidden layer and an output, each >= 1 node, "
                f"e.g. [2, 64, 1]; got {width}")
        return width
