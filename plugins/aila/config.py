"""AILAConfig: the typed config of `aila` (Adaptive Integrated Layered Attention, 2025): a stack of
fully connected layers, each reading an adaptive combination of all earlier layers' outputs."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class AILAConfig(Config):
    input_dim: int = Field(64, ge=1, le=100000, description="input features (inputs are flattened)")
    output_dim: int = Field(10, ge=1, le=100000, description="outputs: classes, regression targets or horizon")
    hidden_dim: int = Field(64, ge=1, le=16384, description="width of every layer's output")
    layers: int = Field(4, ge=1, le=32, description="hidden layers after the input projection")
    connection: Literal["attention", "gated", "none"] = Field(
        "attention", description="'attention': each layer's state queries all earlier outputs (dot-product "
                                 "attention); 'gated': learned softmax weights over earlier outputs; 'none': a plain "
                                 "stack (the ablation)")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout after each layer")
