"""FunctionalNNConfig: the typed config of `functional-nn` (Heinrichs, Heim & Weber, 2023): functional
layers whose weights are functions expanded in a basis of Legendre polynomials, shift invariant by
convolution over time."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from zoo.config import Config, Field


class FunctionalNNConfig(Config):
    grid_points: int = Field(128, ge=4, le=100000, description="J: observation times, equally spaced on [0, 1]")
    in_channels: int = Field(1, ge=1, le=4096, description="functions observed per sample (EEG channels)")
    channels: list[int] = Field([20, 5], description="functional neurons (output functions) of each hidden layer")
    n_basis: int = Field(7, ge=1, le=64, description="L: basis functions (Legendre P_0..P_{L-1}) of each weight function")
    kernel_width: float = Field(0.2, gt=0.0, le=1.0,
                                description="delta: support [0, delta] of the weight functions w(u) of a "
                                            "convolutional layer, as a share of the domain")
    layer: Literal["convolution", "dense"] = Field(
        "convolution", description="convolution: w(s, t) = w(s - t), shift invariant; dense: w(s, t) a general "
                                   "function of both times (the functional MLP)")
    activation: Literal["relu", "tanh", "sigmoid", "elu"] = Field("elu", description="activation of hidden layers")
    normalize: bool = Field(True, description="standardise each input function over time (zero mean, unit variance "
                                              "per sample and channel) before the first layer, as the authors' code does")
    num_classes: int = Field(3, ge=1, le=100000, description="output functions, one per class; logits are their means")

    @field_validator("channels")
    @classmethod
    def _channels(cls, value: list[int]) -> list[int]:
        if len(value) > 16 or any(not 1 <= c <= 4096 for c in value):
            raise ValueError(f"channels must be at most 16 hidden layers of 1..4096 functions, got {value}")
        return value

    def kernel_points(self) -> int:
        """M: grid points of the support [0, delta] of a convolutional weight function."""
        return round(self.kernel_width * (self.grid_points - 1)) + 1

    def output_points(self) -> int:
        """Grid points of the last layer's output functions (each convolution drops M - 1)."""
        layers = len(self.channels) + 1
        return self.grid_points - (layers * (self.kernel_points() - 1) if self.layer == "convolution" else 0)

    @model_validator(mode="after")
    def _fits_the_grid(self):
        if self.layer == "convolution":
            if self.kernel_points() < 2:
                raise ValueError(f"kernel_width={self.kernel_width} covers {self.kernel_points()} grid point(s) of "
                                 f"{self.grid_points}; a weight function needs at least 2")
            if self.output_points() < 1:
                raise ValueError(f"{len(self.channels) + 1} convolutional layers with kernel_width={self.kernel_width} "
                                 f"({self.kernel_points()} points each) do not fit {self.grid_points} grid points")
        return self
