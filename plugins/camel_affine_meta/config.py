"""CamelConfig: the typed config of `camel-affine-meta`, CAMEL of Blanke & Lelarge (ICLR 2024),
"Interpretable Meta-Learning of Physical Systems": shared learned features v_1..v_r (an MLP) and one
weight vector w_t in R^r per training environment; at adaptation a new environment's weights are
solved in closed form (ridge least squares)."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class CamelConfig(Config):
    input_dim: int = Field(2, ge=1, le=4096, description="dimension of the input x (e.g. a state (q, q_dot))")
    output_dim: int = Field(1, ge=1, le=4096, description="dimension of the target y (e.g. an acceleration)")
    rank: int = Field(
        2, ge=1, le=1024,
        description="r: number of learned features v_k, i.e. task weights per environment (the paper sets r to the "
                    "number of physical parameters for identification)")
    hidden_dim: int = Field(32, ge=1, le=65536, description="width of the feature MLP's hidden layers")
    hidden_layers: int = Field(2, ge=1, le=16, description="hidden layers of the feature MLP")
    activation: Literal["tanh", "relu", "gelu"] = Field("tanh", description="nonlinearity of the feature MLP")
    environments: int = Field(
        10, ge=1, le=100000, description="T: training environments, one learned weight vector w_t each")
    ridge: float = Field(
        1e-4, ge=0.0, le=1e6,
        description="lambda of the closed-form adaptation w = (Phi^T Phi + lambda I)^-1 Phi^T y (0: plain least squares)")
