"""S-KAN: Activation Space Selectable Kolmogorov-Arnold Networks (Yang et al., 2024, arXiv:2408.08338).

A KAN layer whose output node j chooses, among several activation spaces (B-spline, Gaussian RBF,
RSWAF, Chebyshev, Jacobi, ReLU bumps: see spaces.py), the one its incoming edge functions live in.
Edge (i -> j) in space s is sum_m c_{s,ijm} b_{s,m}(x_i); node j mixes the spaces with selection
weights g_j = softmax(a_j) over the spaces it is still allowed:

    x_{l+1, j} = sum_i [ w_b,ij silu(x_i) + sum_s g_{js} sum_m c_{s,ijm} b_{s,m}(x_i) ]

All spaces' bases sit side by side, so the whole layer is one matrix product of the pooled basis
(batch, in * S * n) with the gated coefficients. Training follows the paper's three stages: full
training of every space and the selection weights; selection (`select_spaces`: each node keeps the
space with the largest weight, its coefficients scaled by that weight so the kept part of the
function is unchanged, the others pruned); selective training of the kept spaces.
`active_parameter_count` counts what the pruned network uses.

Departures from the paper, whose full text we could not read (the design follows its abstract, the
summaries at emergentmind.com / sciencestack.ai of its three-stage training with pruning, and the
list of KAN variants in the authors' KANConv2d repository):
- The pool holds the six spaces that are linear in their coefficients (see spaces.py). WavKAN
  (learned per-edge wavelet scales and shifts) and GRAM-KAN are left out.
- Every space gets G + k functions and a shared SiLU residual w_b silu(x) per edge (KAN's edge
  form), so single-space variants differ from each other only in the basis.
- Selection weights are per output node (the node that sums the edges), softmax-normalised; the
  schedule between the stages (when to call `select_spaces`) is left to the caller.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import SKANConfig
from .spaces import ActivationSpaces

__all__ = ["SKAN", "SKANLayer"]


class SKANLayer(nn.Module):
    """in_features x out_features edges whose output nodes select among activation spaces."""

    def __init__(self, in_features: int, out_features: int, spaces: list[str], grid: int = 5, k: int = 3,
                 grid_range: tuple[float, float] = (-1.0, 1.0), noise_scale: float = 0.1):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.basis = ActivationSpaces(spaces, grid, k, grid_range)
        n_spaces = len(spaces)
        self.coef = nn.Parameter(torch.randn(in_features, out_features, n_spaces, self.basis.n) * noise_scale)
        bound = math.sqrt(6.0 / (in_features + out_features))  # Xavier uniform, as KAN's residual
        self.scale_base = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))
        self.selection = nn.Parameter(torch.zeros(out_features, n_spaces))
        self.register_buffer("allowed", torch.ones(out_features, n_spaces, dtype=torch.bool))

    def gates(self) -> torch.Tensor:
        """Selection weights g (out, n_spaces): softmax over each node's allowed spaces."""
        return self.selection.masked_fill(~self.allowed, float("-inf")).softmax(dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.coef * self.gates()[None, :, :, None]  # (in, out, S, n)
        weight = weight.permute(0, 2, 3, 1).reshape(-1, self.out_features)
        return F.silu(x) @ self.scale_base + self.basis(x).flatten(1) @ weight

    @torch.no_grad()
    def select_spaces(self) -> None:
        """Keep, at every output node, the allowed space with the largest weight; fold that weight
        into its coefficients so the kept part of the node's function does not change."""
        gates = self.gates()
        choice = gates.argmax(dim=-1)
        nodes = torch.arange(self.out_features, device=choice.device)
        self.coef[:, nodes, choice] *= gates[nodes, choice][:, None]
        self.allowed.copy_(F.one_hot(choice, len(self.basis.spaces)).bool())

    def chosen_spaces(self) -> list[list[str]]:
        """The spaces each output node still uses."""
        return [[s for s, keep in zip(self.basis.spaces, row) if keep] for row in self.allowed.tolist()]

    def active_parameter_count(self) -> int:
        """Parameters the layer's function depends on: residual weights, coefficients of allowed
        spaces, and the selection weights of nodes that still choose among several spaces."""
        allowed = int(self.allowed.sum())
        undecided = int((self.allowed.sum(dim=-1) > 1).sum())
        return self.scale_base.numel() + allowed * self.in_features * self.basis.n + undecided * len(self.basis.spaces)


class SKAN(nn.Module):
    """A stack of S-KAN layers of widths `config.width`."""

    def __init__(self, config: SKANConfig | None = None):
        super().__init__()
        self.config = config = config or SKANConfig()
        self.layers = nn.ModuleList(
            SKANLayer(n_in, n_out, list(config.spaces), config.grid, config.k, tuple(config.grid_range),
                      config.noise_scale)
            for n_in, n_out in zip(config.width[:-1], config.width[1:])
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[-1] != self.config.width[0]:
            raise ValueError(f"S-KAN expects input of shape (batch, {self.config.width[0]}), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"S-KAN expects a floating-point input, got {x.dtype}")
        lead = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        for layer in self.layers:
            x = layer(x)
        return x.reshape(*lead, x.shape[-1])

    def select_spaces(self) -> None:
        """End of full training: every node keeps its highest-weighted space (paper's selection and pruning)."""
        for layer in self.layers:
            layer.select_spaces()

    def chosen_spaces(self) -> list[list[list[str]]]:
        return [layer.chosen_spaces() for layer in self.layers]

    def active_parameter_count(self) -> int:
        return sum(layer.active_parameter_count() for layer in self.layers)
