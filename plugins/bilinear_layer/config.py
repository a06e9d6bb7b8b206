"""BilinearConfig: the typed config of `bilinear-layer` (Sharkey, 2023, arXiv:2305.03452): an MLP
whose hidden layer is the bilinear layer (W1 x) * (W2 x) (biases on: the note's bias-free form with a constant 1 appended to x);
`activation` switches to the ReLU / GELU MLP it is compared with."""

from __future__ import annotations

from typing import Literal

from zoo.config import Config, Field


class BilinearConfig(Config):
    input_dim: int = Field(64, ge=1, le=100000, description="input features (inputs are flattened)")
    output_dim: int = Field(10, ge=1, le=100000, description="outputs: classes or regression targets")
    hidden_dim: int = Field(64, ge=1, le=16384, description="hidden units of each MLP / bilinear layer")
    activation: Literal["bilinear", "relu", "gelu"] = Field(
        "bilinear", description="'bilinear': (W1 x) * (W2 x), the note's layer; 'relu' / 'gelu': the standard "
                                "MLP layer act(W1 x) it replaces")
    bias: bool = Field(
        True, description="biases in the layers; the note writes the layer without them, which is the same tensor "
                          "over the input with a constant 1 appended (without any, the layer cannot output a constant)")
    residual_blocks: int = Field(
        0, ge=0, le=16, description="0: one hidden layer, input -> layer -> output; n: embedding to model_dim, "
                                    "n residual blocks x + W_out layer(x), linear read-out")
    model_dim: int = Field(64, ge=1, le=16384, description="residual stream width (with residual_blocks > 0)")
