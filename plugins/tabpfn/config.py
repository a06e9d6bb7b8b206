"""TabPFNConfig: the typed config of `tabpfn`, with the sizes of Hollmann et al. (2022,
arXiv:2207.01848, Sec. 5 / App. D): a 12-layer transformer of width 512 with 4 heads and 1024 hidden
units, for datasets of up to 100 features and 10 classes."""

from __future__ import annotations

from pydantic import model_validator

from zoo.config import Config, Field


class TabPFNConfig(Config):
    max_features: int = Field(
        100, ge=1, le=10000, description="features the model reads; fewer are zero-padded and rescaled (Sec. 4.4)")
    max_classes: int = Field(10, ge=2, le=1000, description="classes the output layer scores (Sec. 4.4)")
    emsize: int = Field(512, ge=2, le=65536, description="transformer width (embedding size)")
    nhead: int = Field(4, ge=1, le=1024, description="attention heads")
    nhid: int = Field(1024, ge=1, le=262144, description="hidden width of the feed-forward blocks and the output head")
    nlayers: int = Field(12, ge=1, le=256, description="transformer encoder layers")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout inside the transformer")

    @model_validator(mode="after")
    def _heads_divide_width(self) -> "TabPFNConfig":
        if self.emsize % self.nhead:
            raise ValueError(f"emsize={self.emsize} must be divisible by nhead={self.nhead}")
        return self
