"""ARMNetConfig: the typed config of `arm-net` (Cai, Zheng, Chen, Jagadish, Ooi & Zhang, SIGMOD 2021,
arXiv:2107.01830): field embeddings (categorical ids, or numeric values scaling a per-field vector),
exponential neurons whose interaction weights come from multi-head gated sparse attention (alpha-entmax,
alpha = 1.7), an MLP on the resulting cross features, and optionally the ARM-Net+ ensemble with a DNN. Sizes
are a small setting of the paper's shape (see DOC.md, Departures)."""

from __future__ import annotations

from pydantic import field_validator, model_validator

from zoo.config import Config, Field


class ARMNetConfig(Config):
    field_cardinalities: list[int] = Field(
        [100] * 8, max_length=1000,
        description="ids of each categorical field (ids 0..cardinality-1); empty when the inputs are numeric")
    numeric_features: int = Field(
        0, ge=0, le=10000,
        description="number of numeric input features (each embeds as value x a learned vector); 0 for ids")
    embedding_dim: int = Field(10, ge=1, le=1024, description="n_e, embedding size of every field")
    heads: int = Field(4, ge=1, le=256, description="K, attention heads, each with its own bilinear weight matrix")
    neurons: int = Field(16, ge=1, le=4096, description="o, exponential neurons (cross features) per head")
    alpha: float = Field(1.7, gt=1.0, le=2.0, description="alpha of the alpha-entmax attention (2: sparsemax)")
    mlp_hidden: list[int] = Field([300, 300], min_length=1, max_length=16,
                                  description="hidden widths of the MLP on the cross features")
    ensemble_hidden: list[int] = Field(
        [], max_length=16,
        description="ARM-Net+: hidden widths of a DNN on its own embeddings whose logit is added; empty: ARM-Net alone")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout after each hidden layer of the MLPs")

    @field_validator("field_cardinalities")
    @classmethod
    def _cardinalities(cls, values: list[int]) -> list[int]:
        if any(not 1 <= v <= 100_000_000 for v in values):
            raise ValueError(f"field_cardinalities entries must lie in 1..100000000, got {values}")
        return values

    @field_validator("mlp_hidden", "ensemble_hidden")
    @classmethod
    def _widths(cls, values: list[int], info) -> list[int]:
        if any(not 1 <= v <= 65536 for v in values):
            raise ValueError(f"{info.field_name} entries must lie in 1..65536, got {values}")
        return values

    @model_validator(mode="after")
    def _one_input_kind(self) -> "ARMNetConfig":
        fields = len(self.field_cardinalities) + self.numeric_features
        if bool(self.field_cardinalities) == bool(self.numeric_features):
            raise ValueError("give either field_cardinalities (categorical ids) or numeric_features (numeric "
                             f"inputs), exactly one; got {len(self.field_cardinalities)} categorical fields and "
                             f"numeric_features={self.numeric_features}")
        if fields < 2:
            raise ValueError(f"ARM-Net needs at least 2 fields to cross, got {fields} (field_cardinalities="
                             f"{self.field_cardinalities}, numeric_features={self.numeric_features})")
        return self
