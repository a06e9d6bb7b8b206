"""FAN: Fourier Analysis Networks (Dong et al., 2024, arXiv:2410.02675).

A FAN layer (Eq. 9 of the paper) keeps part of its output periodic by construction:

    phi(x) = [cos(W_p x) || sin(W_p x) || sigma(B_pbar + W_pbar x)],

with W_p of d_p rows and W_pbar of d - 2 d_p rows, so the output width is d; the paper uses
d_p = d/4 (`p_ratio=0.25`). A FAN stacks such layers and ends in a linear layer (Eq. 10):
FAN(x) = phi_L o phi_{L-1} o ... o phi_1 (x), phi_L(x) = B_L + W_L x. Compared with an MLP layer of
the same width, a FAN layer has (1 - d_p/d) of the parameters and matmul FLOPs, because cos and
sin share W_p.

`p_ratio=0` leaves only the activation part: the model is then exactly the MLP of the same width
and depth, the paper's baseline.

Departures from the paper: none in the maths. W_p and W_pbar are stored as one matrix so a layer
does one matmul, and `p_bias` (off by default, as in the paper's formula) adds the bias that the
authors' code puts inside cos/sin. The authors' periodicity code also puts a linear embedding
before the first FAN layer; here the first FAN layer reads the input directly, as Eq. 10 says.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import FANConfig

__all__ = ["FAN", "FANLayer"]

_ACTIVATIONS = {"gelu": F.gelu, "relu": F.relu, "tanh": torch.tanh, "silu": F.silu}


class FANLayer(nn.Module):
    """[cos(W_p x) || sin(W_p x) || sigma(B_pbar + W_pbar x)] with d_p = int(out_features * p_ratio)."""

    def __init__(self, in_features: int, out_features: int, p_ratio: float = 0.25, activation: str = "gelu",
                 p_bias: bool = False):
        super().__init__()
        self.d_p = int(out_features * p_ratio)
        self.d_pbar = out_features - 2 * self.d_p
        self.activation = _ACTIVATIONS[activation]
        linear = nn.Linear(in_features, self.d_p + self.d_pbar)  # rows: W_p then W_pbar
        self.weight = linear.weight
        self.bias_pbar = nn.Parameter(linear.bias.detach()[self.d_p:].clone())
        self.bias_p = nn.Parameter(linear.bias.detach()[:self.d_p].clone()) if p_bias else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        bias_p = self.bias_p if self.bias_p is not None else self.bias_pbar.new_zeros(self.d_p)
        p, g = F.linear(x, self.weight, torch.cat([bias_p, self.bias_pbar])).split([self.d_p, self.d_pbar], -1)
        return torch.cat([torch.cos(p), torch.sin(p), self.activation(g)], dim=-1)


class FAN(nn.Module):
    """L - 1 FAN layers of width `hidden_dim`, then a linear output layer."""

    def __init__(self, config: FANConfig | None = None):
        super().__init__()
        self.config = config = config or FANConfig()
        widths = [config.in_features] + [config.hidden_dim] * (config.num_layers - 1)
        self.layers = nn.ModuleList(
            FANLayer(w_in, w_out, config.p_ratio, config.activation, config.p_bias)
            for w_in, w_out in zip(widths[:-1], widths[1:])
        )
        self.output = nn.Linear(config.hidden_dim, config.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"FAN expects a floating-point input of shape (batch, {self.config.in_features}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() < 2 or x.shape[-1] != self.config.in_features:
            raise ValueError(f"FAN expects input of shape (batch, {self.config.in_features}), got {tuple(x.shape)}")
        for layer in self.layers:
            x = layer(x)
        return self.output(x)
