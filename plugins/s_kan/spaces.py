"""The activation spaces S-KAN selects from: each maps inputs x (batch, in) to the values of n fixed
basis functions (batch, in, n), so that an edge function in that space is sum_m c_m b_m(x).

Each space is the basis of one single-space KAN variant, with n = G + k functions in every space
(as many as a B-spline KAN with G intervals of order k):

- bspline    KAN (arXiv:2404.19756): order-k B-splines on G uniform intervals of grid_range.
- rbf        FastKAN (arXiv:2405.06721): Gaussians exp(-((x - c_m) / h)^2), n centres spanning grid_range.
- rswaf      FasterKAN: reflectional switch functions 1 - tanh((x - c_m) / h)^2 on the same centres.
- chebyshev  ChebyKAN: Chebyshev polynomials T_0..T_{n-1} of tanh(x).
- jacobi     JacobiKAN: Jacobi polynomials P_0..P_{n-1} (alpha = beta = 1) of tanh(x).
- relu       ReLU-KAN (arXiv:2406.02075): (ReLU(e_m - x) ReLU(x - s_m))^2 * 16 / (e_m - s_m)^4, the
             bumps on [s_m, e_m] = [t_m, t_{m+k+1}] of the B-spline grid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from zoo_plugins.kan.model import b_spline_basis

__all__ = ["SPACE_NAMES", "ActivationSpaces"]

SPACE_NAMES = ("bspline", "rbf", "rswaf", "chebyshev", "jacobi", "relu")


def _chebyshev(t: torch.Tensor, n: int) -> torch.Tensor:
    terms = [torch.ones_like(t), t][:n]
    while len(terms) < n:
        terms.append(2 * t * terms[-1] - terms[-2])
    return torch.stack(terms, dim=-1)


def _jacobi(t: torch.Tensor, n: int, alpha: float = 1.0, beta: float = 1.0) -> torch.Tensor:
    """Jacobi polynomials P_0..P_{n-1} by the standard three-term recurrence."""
    terms = [torch.ones_like(t), 0.5 * (alpha - beta + (alpha + beta + 2) * t)][:n]
    for m in range(2, n):
        s = 2 * m + alpha + beta
        a = 2 * m * (m + alpha + beta) * (s - 2)
        b = (s - 1) * (s * (s - 2) * t + alpha ** 2 - beta ** 2)
        c = 2 * (m + alpha - 1) * (m + beta - 1) * s
        terms.append((b * terms[-1] - c * terms[-2]) / a)
    return torch.stack(terms, dim=-1)


class ActivationSpaces(nn.Module):
    """The chosen spaces' bases side by side: (batch, in) -> (batch, in, n_spaces, n)."""

    def __init__(self, spaces: list[str], grid: int, k: int, grid_range: tuple[float, float]):
        super().__init__()
        unknown = [s for s in spaces if s not in SPACE_NAMES]
        if unknown or not spaces:
            raise ValueError(f"spaces must be a non-empty list drawn from {SPACE_NAMES}, got {spaces}")
        self.spaces, self.k, self.n = list(spaces), k, grid + k
        low, high = grid_range
        step = (high - low) / grid
        self.register_buffer("knots", torch.arange(-k, grid + k + 1, dtype=torch.float32) * step + low,
                             persistent=False)
        self.register_buffer("centres", torch.linspace(low, high, self.n), persistent=False)
        self.width = (high - low) / max(self.n - 1, 1)

    def _space(self, name: str, x: torch.Tensor) -> torch.Tensor:
        if name == "bspline":
            return b_spline_basis(x, self.knots.expand(x.shape[1], -1), self.k)
        if name in ("rbf", "rswaf"):
            scaled = (x.unsqueeze(-1) - self.centres) / self.width
            return torch.exp(-scaled.square()) if name == "rbf" else 1 - torch.tanh(scaled).square()
        if name == "chebyshev":
            return _chebyshev(torch.tanh(x), self.n)
        if name == "jacobi":
            return _jacobi(torch.tanh(x), self.n)
        start, end = self.knots[: self.n], self.knots[self.k + 1 : self.k + 1 + self.n]
        xe = x.unsqueeze(-1)
        return (F.relu(end - xe) * F.relu(xe - start)).square() * (16 / (end - start) ** 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([self._space(name, x) for name in self.spaces], dim=-2)
