"""AFKANConfig: the typed config of `af-kan` (Ta & Tran, 2025, arXiv:2503.06112)."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from zoo.config import Config, Field

Activation = Literal["silu", "relu", "gelu", "elu", "selu", "leaky_relu", "softplus", "sigmoid", "tanh"]
Function = Literal["quad1", "quad2", "sum", "prod", "sum_prod", "cubic1", "cubic2"]


class AFKANConfig(Config):
    width: list[int] = Field([784, 64, 10], description="nodes per layer, flattened input first (paper: 784-64-10 on MNIST)")
    grid: int = Field(3, ge=1, le=100, description="grid size g (paper's best: 3)")
    k: int = Field(3, ge=0, le=20, description="spline order k; each input gets g + k basis functions (paper's best: 3)")
    activation: Activation = Field("silu", description="activation A in the basis functions and before each linear map (paper's best: silu)")
    function: Function = Field(
        "quad1",
        description="function type F combining x1 = A(x - s) and x2 = A(e - x): quad1 (x1 x2)^2, quad2 x1 x2 + x1^2 + x2^2, "
                    "sum, prod, sum_prod, cubic1 (x1 + x2)(x1^2 + x2^2), cubic2 (x1 x2)^3",
    )
    basis_norm: Literal["l2mm", "relu-kan", "none"] = Field(
        "l2mm", description="l2mm: L2 then min-max normalisation of the basis tensor (AF-KAN); relu-kan: ReLU-KAN's constant "
                            "16 g^4 / (k+1)^4 (quad1 only); none")
    reduction: Literal["global_attn", "spatial_attn", "multistep", "full"] = Field(
        "global_attn", description="how the g + k values of each input become one: global_attn, spatial_attn, multistep "
                                   "(AF-KAN's parameter reduction); full: no reduction, every value has its own weight (ReLU-KAN)")
    norm: Literal["layer", "batch", "none"] = Field(
        "layer", description="data normalisation: after the reduction (AF-KAN) or of the layer input (full / ReLU-KAN)")
    train_phases: bool = Field(True, description="learn the basis start/end points s, e (ReLU-KAN's train_ab)")

    @field_validator("width")
    @classmethod
    def _widths(cls, width: list[int]) -> list[int]:
        if len(width) < 2 or any(w < 1 for w in width):
            raise ValueError(f"width needs at least 2 layers of >= 1 nodes, e.g. [64, 64, 10]; got {width}")
        return width

    @model_validator(mode="after")
    def _relu_kan_scale(self) -> "AFKANConfig":
        if self.basis_norm == "relu-kan" and self.function != "quad1":
            raise ValueError(f"basis_norm='relu-kan' scales (x1 x2)^2 to a peak of 1 and needs function='quad1', "
                             f"got function={self.function!r}")
        return self
