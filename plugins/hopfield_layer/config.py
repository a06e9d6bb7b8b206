"""HopfieldConfig: the typed config of `hopfield-layer`, a tabular classifier built on one of the
three layers of Hopfield Networks is All You Need (Ramsauer et al., 2020, arXiv:2008.02217)."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class HopfieldConfig(Config):
    in_features: int = Field(30, ge=1, le=1_000_000, description="input features of a sample")
    num_classes: int = Field(2, ge=2, le=100000, description="output classes")
    layer: Literal["hopfield-layer", "hopfield-pooling", "hopfield"] = Field(
        "hopfield-layer",
        description="hopfield-layer: the sample is the state pattern, stored patterns are learned; hopfield-pooling: "
                    "features are stored patterns, a learned state pattern pools them; hopfield: features associate "
                    "with each other (self-association), then a mean")
    embedding_dim: int = Field(32, ge=1, le=65536, description="size of the embedded sample (hopfield-layer) or of each feature token (others)")
    hidden_size: int = Field(32, ge=1, le=65536, description="association space size d_k of W_Q, W_K per head")
    num_heads: int = Field(1, ge=1, le=256, description="independent Hopfield heads, concatenated")
    num_stored_patterns: int = Field(32, ge=1, le=1_000_000, description="learned stored patterns of hopfield-layer")
    num_state_patterns: int = Field(1, ge=1, le=4096, description="learned state (query) patterns of hopfield-pooling")
    beta: float | None = Field(None, gt=0.0, le=1e6, description="inverse temperature beta; None = 1/sqrt(d_k), the transformer's value")
    update_steps: int = Field(1, ge=1, le=100, description="Hopfield updates (paper: one update usually retrieves)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout on the association probabilities")
