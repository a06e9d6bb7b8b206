"""ArithmeticConfig: the typed config of `nau-nmu`, with the defaults of Madsen & Johansen (2020,
arXiv:2001.05016) for the arithmetic dataset task: 100 inputs, 2 hidden units, one output, a first
NAU layer and a second NMU layer, sparsity regulariser lambda_hat 10 warmed up from step 10^6 to 2*10^6."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field


class ArithmeticConfig(Config):
    in_features: int = Field(100, ge=2, le=100000, description="input vector size (the paper's arithmetic dataset: 100)")
    hidden_features: int = Field(2, ge=1, le=10000, description="outputs of the first layer (the paper: 2, one per subset sum)")
    out_features: int = Field(1, ge=1, le=10000, description="outputs of the second layer")
    first: Literal["nau", "nalu"] = Field("nau", description="first layer: NAU (the paper) or NALU (the baseline)")
    second: Literal["nau", "nmu", "nalu"] = Field(
        "nmu", description="second layer: NMU for multiplication, NAU for addition/subtraction, NALU (baseline)")
    sparsity_scale: float = Field(10.0, ge=0.0, le=1e6, description="lambda_hat of the sparsity regulariser R_sparse")
    sparsity_start: int = Field(1_000_000, ge=0, description="optimizer step where lambda_sparse starts to rise from 0")
    sparsity_end: int = Field(2_000_000, ge=1, description="optimizer step where lambda_sparse reaches lambda_hat")
    nalu_eps: float = Field(1e-7, gt=0.0, le=1.0, description="epsilon in NALU's log(|x| + eps) (Trask et al.)")

    @model_validator(mode="after")
    def _warm_up_has_length(self) -> "ArithmeticConfig":
        if self.sparsity_end <= self.sparsity_start:
            raise ValueError(f"sparsity_end ({self.sparsity_end}) must be after sparsity_start ({self.sparsity_start})")
        return self
