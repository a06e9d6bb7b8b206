"""QuadraticNetConfig: the typed config of `quadratic-net` (Fan et al., 2021): a fully
connected network of quadratic neurons with ReLU, initialised and trained with ReLinear (Sec. 4)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field as Bound

from zoo.config import Config, Field


class QuadraticNetConfig(Config):
    input_dim: int = Field(64, ge=1, le=100000, description="input features (inputs are flattened)")
    output_dim: int = Field(10, ge=1, le=100000, description="outputs: classes or regression targets")
    hidden_dims: list[Annotated[int, Bound(ge=1, le=16384)]] = Field([32], min_length=0, max_length=16,
                                   description="widths of the hidden layers (ReLU between layers)")
    neuron: Literal["quadratic", "conventional"] = Field(
        "quadratic", description="'quadratic': (W_r x + b_r) * (W_g x + b_g) + W_b (x^2) + c; 'conventional': W x + b")
    init: Literal["relinear", "random"] = Field(
        "relinear", description="'relinear': W_g = 0, b_g = 1, W_b = 0, c = 0, so every neuron starts linear (the "
                                "paper's ReLinear); 'random': every term drawn like a linear layer's (the control)")
    quadratic_lr_scale: float = Field(
        0.01, gt=0.0, le=1.0,
        description="learning rate of the quadratic terms (W_g, b_g, W_b, c) as a share of the linear part's: ReLinear "
                    "trains them more slowly; 1 = one learning rate for all")
