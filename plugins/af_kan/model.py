"""AF-KAN: Activation Function-Based Kolmogorov-Arnold Networks for Efficient Representation
Learning (Ta & Tran, 2025, arXiv:2503.06112), with ReLU-KAN (Qiu et al., 2024, arXiv:2406.02075) as
its `relu-kan` variant.

ReLU-KAN replaces B-splines by g + k bumps per input, R_m(x) = [ReLU(e_m - x) ReLU(x - s_m)]^2
* 16 / (e_m - s_m)^4 with s_m = (m - k) / g, e_m = s_m + (k + 1) / g, and contracts all of them with
one weight each (`reduction="full"`, here after a LayerNorm of the layer input, as in the baseline
the AF-KAN paper compares against).

AF-KAN generalises the bump: x1 = A(x - s_m), x2 = A(e_m - x) for an activation A (SiLU by
default), combined by a function type F (quad1 = (x1 x2)^2 by default), and the (batch, in, g + k)
tensor is normalised as a whole (L2 then min-max, "L2MM"). Its parameter reduction then turns the
g + k values of each input into one number before an MLP-sized map:

- global_attn:  a = softmax_i(w . F_i / T) over the inputs i (T a learned temperature, at least 1),
                z_i = a_i * sum_m F_im
- spatial_attn: a depthwise convolution over the inputs gives scores, softmax over the g + k values,
                z_i = sum_m a_im F_im
- multistep:    z_i = w . F_i + b
then y = W A(LayerNorm(z)) with W (out, in), no bias.

The design follows the paper's description of AF-KAN and the authors' code (All-KAN repository,
models/af_kan.py), which we read to settle details. Departures:
- L2MM: min-max normalisation is invariant to the positive L2 scale before it, so only the
  min-max step is computed (same values); a tiny floor on (max - min) avoids 0/0 on constant input.
  As in the paper, the statistics are those of the whole batch tensor, so a sample's output
  depends slightly on the other samples in its batch.
- The authors' local, self- and multi-head attention reductions ("slow, memory error" in their
  code) and the combination of several reductions are left out.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import AFKANConfig

__all__ = ["AFKAN", "AFKANLayer", "ReLUKANLayer", "ACTIVATIONS", "FUNCTIONS"]

ACTIVATIONS = {
    "silu": F.silu, "relu": F.relu, "gelu": F.gelu, "elu": F.elu, "selu": F.selu,
    "leaky_relu": F.leaky_relu, "softplus": F.softplus, "sigmoid": torch.sigmoid, "tanh": torch.tanh,
}

FUNCTIONS = {
    "quad1": lambda x1, x2: (x1 * x2).square(),
    "quad2": lambda x1, x2: x1 * x2 + x1.square() + x2.square(),
    "sum": lambda x1, x2: x1 + x2,
    "prod": lambda x1, x2: x1 * x2,
    "sum_prod": lambda x1, x2: x1 + x2 + x1 * x2,
    "cubic1": lambda x1, x2: (x1 + x2) * (x1.square() + x2.square()),
    "cubic2": lambda x1, x2: (x1 * x2).pow(3),
}


def _norm(kind: str, features: int) -> nn.Module:
    return {"layer": nn.LayerNorm, "batch": nn.BatchNorm1d}.get(kind, lambda _: nn.Identity())(features)


class _Basis(nn.Module):
    """F(A(x - s_m), A(e_m - x)) for the g + k start/end points, normalised: (batch, in) -> (batch, in, g+k)."""

    def __init__(self, config: AFKANConfig, phase_shape: tuple[int, ...]):
        super().__init__()
        g, k = config.grid, config.k
        start = torch.arange(-k, g, dtype=torch.float32) / g
        self.start = nn.Parameter(start.expand(*phase_shape, -1).clone(), requires_grad=config.train_phases)
        self.end = nn.Parameter((start + (k + 1) / g).expand(*phase_shape, -1).clone(),
                                requires_grad=config.train_phases)
        self.activation = ACTIVATIONS[config.activation]
        self.function = FUNCTIONS[config.function]
        self.basis_norm = config.basis_norm
        self.relu_kan_scale = (4 * g * g / (k + 1) ** 2) ** 2  # ReLU-KAN's r, squared with x1 x2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.unsqueeze(-1)
        values = self.function(self.activation(x - self.start), self.activation(self.end - x))
        if self.basis_norm == "relu-kan":
            return values * self.relu_kan_scale
        if self.basis_norm == "l2mm":
            low, high = values.min(), values.max()
            return (values - low) / (high - low).clamp_min(1e-12)
        return values


class AFKANLayer(nn.Module):
    """AF-KAN layer: basis, parameter reduction to one value per input, norm, A, linear map."""

    def __init__(self, in_features: int, out_features: int, config: AFKANConfig):
        super().__init__()
        n_basis = config.grid + config.k
        self.reduction = config.reduction
        self.basis = _Basis(config, ())
        if config.reduction in ("global_attn", "multistep"):
            self.score = nn.Linear(n_basis, 1)
        else:  # spatial_attn: a score per basis value from its neighbours along the inputs
            self.score = nn.Conv1d(n_basis, n_basis, kernel_size=3, padding=1, groups=n_basis)
        if config.reduction != "multistep":
            self.temperature = nn.Parameter(torch.tensor(math.sqrt(in_features)))
        self.norm = _norm(config.norm, in_features)
        self.activation = ACTIVATIONS[config.activation]
        self.linear = nn.Linear(in_features, out_features, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values = self.basis(x)  # (batch, in, g+k)
        if self.reduction == "multistep":
            z = self.score(values).squeeze(-1)
        elif self.reduction == "global_attn":
            weights = torch.softmax(self.score(values) / self.temperature.clamp(min=1.0), dim=-2)
            z = (values * weights).sum(dim=-1)
        else:
            scores = self.score(values.transpose(1, 2)).transpose(1, 2)  # (batch, in, g+k)
            z = (values * torch.softmax(scores / self.temperature.clamp(min=1.0), dim=-1)).sum(dim=-1)
        return self.linear(self.activation(self.norm(z)))


class ReLUKANLayer(nn.Module):
    """ReLU-KAN layer (reduction 'full'): norm of the input, per-input basis, one weight per value."""

    def __init__(self, in_features: int, out_features: int, config: AFKANConfig):
        super().__init__()
        self.norm = _norm(config.norm, in_features)
        self.basis = _Basis(config, (in_features,))
        self.linear = nn.Linear(in_features * (config.grid + config.k), out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.basis(self.norm(x)).flatten(1))


class AFKAN(nn.Module):
    """A stack of AF-KAN (or, with reduction='full', ReLU-KAN) layers on flattened inputs."""

    def __init__(self, config: AFKANConfig | None = None):
        super().__init__()
        self.config = config = config or AFKANConfig()
        layer = ReLUKANLayer if config.reduction == "full" else AFKANLayer
        self.layers = nn.ModuleList(layer(n_in, n_out, config) for n_in, n_out in zip(config.width[:-1], config.width[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.config.width[0]
        if x.dim() < 2 or math.prod(x.shape[1:]) != features:
            raise ValueError(f"AF-KAN expects input of shape (batch, {features}) or (batch, ...) with {features} "
                             f"values per sample, got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"AF-KAN expects a floating-point input, got {x.dtype}")
        x = x.flatten(1)
        for layer in self.layers:
            x = layer(x)
        return x
