"""SymbolicNetworkConfig: the typed config of `dysymnet`'s symbolic network (Li et al., ICML 2024):
the structure the controller samples (operators of each hidden layer) and the sizes it acts on."""

from __future__ import annotations

from pydantic import field_validator

from zoo.config import Config, Field

OPERATORS = ("identity", "square", "sin", "cos", "exp", "mul")


class SymbolicNetworkConfig(Config):
    n_inputs: int = Field(1, ge=1, le=64, description="input variables x_1..x_d")
    layers: list[list[str]] = Field(
        [["identity", "square", "mul"], ["identity", "sin", "mul"]],
        description=f"operators of each hidden layer, from {list(OPERATORS)} (mul takes two inputs, the others one)")
    bias: bool = Field(True, description="a learned constant in every operator input and in the output")
    init_std: float = Field(0.5, gt=0.0, le=10.0, description="std of the normal initial weights")

    @field_validator("layers")
    @classmethod
    def _layers(cls, value: list[list[str]]) -> list[list[str]]:
        if not 1 <= len(value) <= 8:
            raise ValueError(f"layers must hold 1 to 8 hidden layers, got {len(value)}")
        for i, layer in enumerate(value):
            if not 1 <= len(layer) <= 64:
                raise ValueError(f"layer {i} must hold 1 to 64 operators, got {len(layer)}")
            unknown = [op for op in layer if op not in OPERATORS]
            if unknown:
                raise ValueError(f"layer {i} has unknown operators {unknown}; expected names from {list(OPERATORS)}")
        return value
