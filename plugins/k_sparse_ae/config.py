"""KSparseAEConfig: the typed config of `k-sparse-ae`, with the MNIST defaults of Makhzani & Frey
(2013, arXiv:1312.5663): 784 inputs, 1000 hidden units, k = 25, alpha = 3, and the k schedule that
starts at k = 100 and decreases linearly to k over the first half of training."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from zoo.config import Config, Field


class KSparseAEConfig(Config):
    input_shape: list[int] = Field([784], min_length=1, max_length=4,
                                   description="shape of one input (no batch); flattened to its size")
    hidden_dim: int = Field(1000, ge=1, le=1000000, description="hidden units (paper, MNIST: 1000)")
    k: int = Field(25, ge=1, le=1000000, description="units kept in the support at the end of training (paper: 25)")
    alpha: float = Field(3.0, ge=1.0, le=1000.0,
                         description="encoding keeps the top alpha*k activations as features (paper, MNIST: 3)")
    k_start: int = Field(100, ge=1, le=1000000,
                         description="k at the first epoch of the schedule (paper: 100, so every unit gets trained)")
    schedule_fraction: float = Field(0.5, ge=0.0, le=1.0,
                                     description="share of the epochs over which k falls linearly from k_start to k")
    init_std: float = Field(0.01, gt=0.0, le=10.0, description="std of the Gaussian initial weights W")

    @field_validator("input_shape")
    @classmethod
    def _shape(cls, shape: list[int]) -> list[int]:
        if any(s < 1 for s in shape):
            raise ValueError(f"input_shape entries must all be >= 1, e.g. [1, 8, 8]; got {shape}")
        return shape

    @model_validator(mode="after")
    def _sparsity(self) -> "KSparseAEConfig":
        if self.k > self.hidden_dim:
            raise ValueError(f"k={self.k} exceeds hidden_dim={self.hidden_dim}: the support cannot hold more "
                             f"units than the layer has")
        if self.k_start < self.k:
            raise ValueError(f"k_start={self.k_start} is below k={self.k}: the schedule starts large and decreases to k")
        return self
