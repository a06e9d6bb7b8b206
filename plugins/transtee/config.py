"""TransTEEConfig: the typed config of `transtee` (Zhang et al., 2022, "Exploring Transformer
Backbones for Heterogeneous Treatment Effect Estimation"). Defaults (our reading of the paper's
small configuration): one self-attention layer over the covariate tokens, one cross-attention
layer from the treatment token, 2 heads, feed-forward width equal to the token width 64, and a
propensity head weighted 0.5 (VCNet's alpha)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from zoo.config import Config, Field


class TransTEEConfig(Config):
    covariates: int = Field(10, ge=1, le=10000, description="number of covariates (one token each)")
    treatment: Literal["discrete", "continuous"] = Field(
        "discrete", description="'discrete': treatment ids 0..num_treatments-1; 'continuous': a dosage in [0, 1]")
    num_treatments: int = Field(2, ge=2, le=1000, description="treatment arms (discrete treatments only)")
    emsize: int = Field(64, ge=2, le=65536, description="token width h")
    nhead: int = Field(2, ge=1, le=1024, description="attention heads")
    nlayers: int = Field(1, ge=1, le=64, description="layers of the covariate encoder and of the treatment decoder")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout inside the attention layers")
    propensity_weight: float = Field(
        0.5, ge=0.0, le=100.0,
        description="weight of the propensity head's negative log-likelihood in the training loss (0: off)")
    density_bins: int = Field(
        10, ge=2, le=1000, description="bins of the propensity density of a continuous dosage on [0, 1]")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "TransTEEConfig":
        if self.emsize % self.nhead:
            raise ValueError(f"emsize={self.emsize} must be divisible by nhead={self.nhead}")
        return self
