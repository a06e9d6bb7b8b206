"""MultipletConfig: the typed config of `multiplet-nn` (Frick, 2020): layers of
multiplet neurons computing weighted Lehmer or Gini means of positive inputs with learned exponents;
`mean="relu"` builds the ReLU network of the same widths (the baseline)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field as Bound

from zoo.config import Config, Field


class MultipletConfig(Config):
    input_dim: int = Field(2, ge=1, le=100000, description="positive input features")
    output_dim: int = Field(1, ge=1, le=100000, description="outputs")
    hidden_dims: list[Annotated[int, Bound(ge=1, le=16384)]] = Field(
        [2], max_length=16, description="widths of the hidden layers (two layers in all with one hidden layer)")
    mean: Literal["lehmer", "gini", "relu"] = Field(
        "lehmer", description="'lehmer': L_p = sum w x^p / sum w x^(p-1); 'gini': G_rs = (sum w x^r / sum w x^s)^(1/(r-s)); "
                              "'relu': the ReLU network of the same widths (baseline)")
    bias_input: bool = Field(True, description="append a constant input 1 to every multiplet layer (its weight acts "
                                                "as a bias; 1^p = 1, log 1 = 0)")
    init_p: float = Field(1.0, ge=-50.0, le=50.0, description="initial Lehmer exponent p (1: weighted arithmetic mean)")
    init_r: float = Field(1.0, ge=-50.0, le=50.0, description="initial Gini exponent r")
    init_s: float = Field(0.0, ge=-50.0, le=50.0, description="initial Gini exponent s (r = 1, s = 0: arithmetic mean)")
    floor: float = Field(1e-3, gt=0.0, le=1.0,
                         description="hidden outputs and the Gini mean's sums are clamped to at least this, so that "
                                     "powers and logarithms of the next layer stay defined")
