"""PFNConfig: the typed config of `pfn`, with the transformer sizes of the GP experiments of
Mueller et al. (2022, arXiv:2112.10510): 6 layers, width 512, 4 heads, 1024 hidden, 1000 bars."""

from __future__ import annotations

from pydantic import model_validator

from zoo.config import Config, Field


class PFNConfig(Config):
    x_dim: int = Field(1, ge=1, le=10000, description="features of each input x")
    emsize: int = Field(512, ge=2, le=65536, description="transformer width (embedding size)")
    nhead: int = Field(4, ge=1, le=1024, description="attention heads")
    nhid: int = Field(1024, ge=1, le=262144, description="hidden width of the feed-forward blocks and the output head")
    nlayers: int = Field(6, ge=1, le=256, description="transformer encoder layers")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout inside the transformer")
    num_buckets: int = Field(1000, ge=3, le=100000, description="bars of the Riemann (bar) output distribution")
    bucket_std: float = Field(
        1.0, gt=0.0, description="std of the prior's y marginal; bars have equal probability under N(0, std^2)")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "PFNConfig":
        if self.emsize % self.nhead:
            raise ValueError(f"emsize={self.emsize} must be divisible by nhead={self.nhead}")
        return self
