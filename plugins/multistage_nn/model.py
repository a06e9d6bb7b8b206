"""The multistage composite u_c(x) = sum_i eps_i u_i(x) (Wang & Lai, Eq. 2.3) and its stage networks.

Each stage u_i maps the inputs to [-1, 1] by fixed bounds, then
    h_1 = act_1(kappa_i * W_1 x_hat + b_1),  h_l = tanh(W_l h_{l-1} + b_l),  u_i = W_L h_{L-1} + b_L,
with act_1 = tanh and kappa = 1 for the first stage and act_1 = sin, kappa = 2 pi f_d (the dominant
frequency of the residue the stage fits) for the later ones (Sec. 2.2). kappa, the bounds and the
scales eps_i are buffers: they come from the data, and zoo.save / zoo.load keep them with the weights.
A stage whose scale is still 0 (not trained yet) adds nothing.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import MultistageNetConfig

__all__ = ["StageNet", "MultistageNet"]

_DTYPES = {"float64": torch.float64, "float32": torch.float32}


class StageNet(nn.Module):
    """One stage network u_i: an MLP whose first layer is act(kappa * W x_hat + b)."""

    def __init__(self, in_features: int, out_features: int, hidden_dim: int, hidden_layers: int,
                 first_activation: str = "tanh", dtype: torch.dtype = torch.float64):
        super().__init__()
        widths = [in_features] + [hidden_dim] * hidden_layers + [out_features]
        self.layers = nn.ModuleList(nn.Linear(a, b, dtype=dtype) for a, b in zip(widths[:-1], widths[1:]))
        self.first_activation = first_activation
        self.register_buffer("kappa", torch.ones((), dtype=dtype))
        self.register_buffer("lower", -torch.ones(in_features, dtype=dtype))
        self.register_buffer("upper", torch.ones(in_features, dtype=dtype))

    @torch.no_grad()
    def initialize(self, generator: torch.Generator | None = None) -> None:
        """The paper's init: Xavier normal truncated at 2 std, std = sqrt(2 / (fan_in + fan_out)),
        zero biases (the authors' code)."""
        for layer in self.layers:
            std = (2.0 / (layer.in_features + layer.out_features)) ** 0.5
            nn.init.trunc_normal_(layer.weight, std=std, a=-2 * std, b=2 * std, generator=generator)
            layer.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_hat = 2.0 * (x - self.lower) / (self.upper - self.lower) - 1.0
        first = self.layers[0]
        pre = self.kappa * nn.functional.linear(x_hat, first.weight) + first.bias  # kappa scales W x, not b
        h = torch.sin(pre) if self.first_activation == "sin" else torch.tanh(pre)
        for layer in self.layers[1:-1]:
            h = torch.tanh(layer(h))
        return self.layers[-1](h)


class MultistageNet(nn.Module):
    """u_c(x) = sum_i scales[i] * stages[i](x): the model the multistage-nn procedure trains."""

    def __init__(self, config: MultistageNetConfig):
        super().__init__()
        self.config = config
        dtype = _DTYPES[config.dtype]
        self.stages = nn.ModuleList(
            StageNet(config.in_features, config.out_features, config.hidden_dim, config.hidden_layers,
                     "tanh" if i == 0 else config.later_activation, dtype)
            for i in range(config.stages))
        self.register_buffer("scales", torch.zeros(config.stages, dtype=dtype))

    def partial(self, x: torch.Tensor, upto: int) -> torch.Tensor:
        """sum_{i < upto} eps_i u_i(x): the composite of the first `upto` stages."""
        x = x.to(self.scales.dtype)
        total = torch.zeros(x.shape[0], self.config.out_features, dtype=x.dtype, device=x.device)
        for i in range(upto):
            # tracing cannot branch on a scale's value; a zero scale adds zero to a finite total
            if torch.compiler.is_compiling() or self.scales[i] != 0:
                total = total + self.scales[i] * self.stages[i](x)
        return total

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.partial(x, len(self.stages))
