"""PrototypeNetConfig: the typed config of `prototype-net`, with the MNIST defaults of Li, Liu, Chen &
Rudin (2018, arXiv:1710.04806): four 3x3 stride-2 sigmoid conv layers (32, 32, 32, 10 filters) to a
2x2x10 latent code, a mirrored decoder, 15 prototypes, and lambda = lambda1 = lambda2 = 0.05."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from zoo.config import Config, Field


class PrototypeNetConfig(Config):
    input_shape: list[int] = Field([1, 28, 28], min_length=3, max_length=3,
                                   description="(channels, height, width) of one image (paper: 1x28x28 MNIST)")
    num_classes: int = Field(10, ge=2, le=100000, description="classes K")
    channels: int = Field(32, ge=1, le=4096, description="filters of every conv layer but the last (paper: 32)")
    latent_channels: int = Field(10, ge=1, le=4096, description="filters of the last conv layer (paper: 10)")
    strides: list[int] = Field([2, 2, 2, 2], min_length=1, max_length=16,
                               description="stride of each 3x3 conv layer, one per layer (paper: four of 2; "
                                           "for 8x8 digits from_task gives [2, 2, 1, 1], the same 2x2 latent grid)")
    num_prototypes: int = Field(15, ge=1, le=100000, description="prototypes m in the latent space (paper, MNIST: 15)")
    lambda_recon: float = Field(0.05, ge=0.0, le=1000.0, description="lambda: weight of the reconstruction term R")
    lambda_r1: float = Field(0.05, ge=0.0, le=1000.0,
                             description="lambda1: weight of R1 (every prototype near some encoded input)")
    lambda_r2: float = Field(0.05, ge=0.0, le=1000.0,
                             description="lambda2: weight of R2 (every encoded input near some prototype)")

    @field_validator("input_shape")
    @classmethod
    def _shape(cls, shape: list[int]) -> list[int]:
        if any(s < 1 for s in shape):
            raise ValueError(f"input_shape entries must all be >= 1, e.g. [1, 28, 28]; got {shape}")
        return shape

    @field_validator("strides")
    @classmethod
    def _strides(cls, strides: list[int]) -> list[int]:
        if any(s not in (1, 2) for s in strides):
            raise ValueError(f"strides must be 1 or 2 (the paper's layers use 2), got {strides}")
        return strides

    @model_validator(mode="after")
    def _fits(self) -> "PrototypeNetConfig":
        if min(self.input_shape[1:]) < 2 ** sum(s == 2 for s in self.strides):
            raise ValueError(f"input_shape {self.input_shape} is too small for strides {self.strides}: each "
                             f"stride-2 layer halves the image")
        return self
