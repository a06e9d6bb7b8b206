"""Scalable Neural Network Kernels (Sehanobish, Choromanski, Zhao, Dubey & Likhosherstov, ICLR 2024,
arXiv:2310.13225).

An SNNK (Sec. 3) rewrites a feed-forward neuron f(w^T x + b) as a dot product of two maps,

    f(w^T x + b) ~= phi(x)^T psi(w, b),

so that the input and the weights no longer meet inside f: the layer becomes phi(x)^T Psi(W, b),
with Psi(W, b) = [psi(w_1, b_1), ..., psi(w_l, b_l)] an m x l matrix. Trained directly, that matrix
is the layer's only parameter (m l numbers instead of (d + 1) l), and phi is fixed.

phi and psi come from the paper's universal random features (URFs, Sec. 3.2), built on the
Gaussian identity, for omega ~ N(0, I_d) and any (complex) vectors x, y,

    exp(x^T y) = E_omega[ exp(omega^T x - x^T x / 2) exp(omega^T y - y^T y / 2) ].

With m draws omega_1..omega_m (fixed, a buffer) and phi_k(x) = exp(omega_k^T x - |x|^2 / 2) / sqrt(m),
the positive random features of the input:

- f = exp: psi_k(w, b) = exp(b + omega_k^T w - |w|^2 / 2) / sqrt(m)        (y = w);
- f = cos / sin: exp(i w^T x) is the identity at y = i w, where y^T y = -|w|^2, so
  psi_k(w, b) = exp(|w|^2 / 2) cos(omega_k^T w + b) / sqrt(m)  (sin for f = sin),
  the real / imaginary part of exp(i (w^T x + b)).

Both are unbiased: E[phi(x)^T psi(w, b)] = f(w^T x + b) exactly, with an error shrinking as
1 / sqrt(m) (`kernel_approximation` computes both sides). The variance grows with |x|^2, so inputs
are scaled by `input_scale` (1 / sqrt(d) by default) before the layer, which the weights absorb.

`SNNKLayer` holds omega and the trainable A (m x l), initialised to Psi(W0, b0) of a random regular
layer so that it starts as an approximation of one. `SNNKNet` is x -> layer -> linear read-out;
with layer="regular" it is the same network with the exact f(W x + b).

Departures: URFs for f with closed-form Fourier transforms only (exp, cos, sin); ReLU/GELU
instantiations and the paper's bundling and adapter architectures are not built.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import SNNKConfig

__all__ = ["input_features", "weight_features", "SNNKLayer", "SNNKNet", "ACTIVATIONS"]

ACTIVATIONS = {"exp": torch.exp, "cos": torch.cos, "sin": torch.sin}


def input_features(x: torch.Tensor, omega: torch.Tensor) -> torch.Tensor:
    """phi(x): (batch, d) -> (batch, m), phi_k(x) = exp(omega_k^T x - |x|^2 / 2) / sqrt(m); omega (m, d)."""
    return torch.exp(x @ omega.T - x.pow(2).sum(-1, keepdim=True) / 2) / math.sqrt(omega.shape[0])


def weight_features(weight: torch.Tensor, bias: torch.Tensor, omega: torch.Tensor, activation: str) -> torch.Tensor:
    """Psi(W, b): weights (l, d) and biases (l,) -> (m, l), so that phi(x) @ Psi ~= f(x W^T + b)."""
    projected = omega @ weight.T  # (m, l): omega_k^T w_j
    norm = weight.pow(2).sum(-1) / 2  # |w_j|^2 / 2
    if activation == "exp":
        psi = torch.exp(bias + projected - norm)
    elif activation in ("cos", "sin"):
        psi = torch.exp(norm) * ACTIVATIONS[activation](projected + bias)
    else:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
    return psi / math.sqrt(omega.shape[0])


class SNNKLayer(nn.Module):
    """phi(x)^T A: fixed URFs of the input, A (m x out) the only parameter, A = Psi(W0, b0) at the start."""

    def __init__(self, d_in: int, d_out: int, features: int, activation: str, weight_std: float = 0.5):
        super().__init__()
        self.activation = activation
        self.register_buffer("omega", torch.randn(features, d_in))
        w0 = torch.randn(d_out, d_in) * weight_std / math.sqrt(d_in)
        b0 = torch.randn(d_out) * weight_std
        self.projection = nn.Parameter(weight_features(w0, b0, self.omega, activation))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return input_features(x, self.omega) @ self.projection


class RegularLayer(nn.Module):
    """The feed-forward layer f(W x + b) an SNNK layer replaces (same initial distribution of W, b)."""

    def __init__(self, d_in: int, d_out: int, activation: str, weight_std: float = 0.5):
        super().__init__()
        self.activation = activation
        self.weight = nn.Parameter(torch.randn(d_out, d_in) * weight_std / math.sqrt(d_in))
        self.bias = nn.Parameter(torch.randn(d_out) * weight_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ACTIVATIONS[self.activation](F.linear(x, self.weight, self.bias))


class SNNKNet(nn.Module):
    """x (flattened, scaled) -> SNNK (or regular) layer of hidden_dim units -> linear read-out."""

    def __init__(self, config: SNNKConfig | None = None):
        super().__init__()
        self.config = c = config or SNNKConfig()
        self.scale = c.input_scale or 1.0 / math.sqrt(c.input_dim)
        if c.layer == "snnk":
            self.hidden = SNNKLayer(c.input_dim, c.hidden_dim, c.features, c.activation, c.weight_std)
        else:
            self.hidden = RegularLayer(c.input_dim, c.hidden_dim, c.activation, c.weight_std)
        self.readout = nn.Linear(c.hidden_dim, c.output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, ...) inputs with input_dim features in all -> (batch, output_dim)."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"snnk expects a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
        x = x.reshape(len(x), -1) if x.dim() > 1 else x
        if x.dim() != 2 or x.shape[1] != self.config.input_dim:
            raise ValueError(f"snnk expects inputs of shape (batch, {self.config.input_dim}) (or any shape with "
                             f"{self.config.input_dim} features per sample), got {tuple(x.shape)}")
        return self.readout(self.hidden(x * self.scale))


def kernel_approximation(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, features: int,
                         activation: str, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(phi(x)^T Psi(W, b) with `features` fresh draws of omega, the exact f(x W^T + b)), both (batch, l)."""
    omega = torch.randn(features, x.shape[1], generator=generator, dtype=x.dtype)
    estimate = input_features(x, omega) @ weight_features(weight, bias, omega, activation)
    return estimate, ACTIVATIONS[activation](x @ weight.T + bias)
