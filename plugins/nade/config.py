"""NADEConfig: the typed config of `nade`, with the defaults of Uria et al. (2016, arXiv:1605.02226):
NADE with one sigmoid hidden layer of 500 units on 784 binary pixels; DeepNADE variants are
order-agnostic ReLU networks."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from zoo.config import Config, Field


class NADEConfig(Config):
    input_dim: int = Field(784, ge=2, le=100000, description="number of binary dimensions D")
    hidden_sizes: list[int] = Field(
        [500], description="hidden layer widths; NADE has one (its weights W are shared across conditionals)")
    order_agnostic: bool = Field(
        False, description="False: NADE with a fixed ordering; True: DeepNADE trained over all orderings with masks")
    activation: Literal["sigmoid", "relu"] = Field(
        "sigmoid", description="hidden activation (NADE: sigmoid; DeepNADE: relu)")
    eval_orderings: int = Field(
        1, ge=1, le=1000,
        description="DeepNADE: random orderings ensembled (log-mean-exp) by evaluation_step; NADE uses its own")

    @field_validator("hidden_sizes")
    @classmethod
    def _hidden(cls, sizes: list[int]) -> list[int]:
        if not sizes or any(s < 1 for s in sizes):
            raise ValueError(f"hidden_sizes must be a non-empty list of sizes >= 1, got {sizes}")
        return sizes

    @model_validator(mode="after")
    def _shared_weights_need_one_layer(self) -> "NADEConfig":
        if not self.order_agnostic and len(self.hidden_sizes) != 1:
            raise ValueError(f"NADE with a fixed ordering shares one hidden layer across conditionals; got "
                             f"hidden_sizes={self.hidden_sizes}. Use one width, or order_agnostic=True for DeepNADE")
        if not self.order_agnostic and self.eval_orderings != 1:
            raise ValueError(f"eval_orderings={self.eval_orderings} needs order_agnostic=True: "
                             f"a fixed-ordering NADE has one ordering")
        return self
