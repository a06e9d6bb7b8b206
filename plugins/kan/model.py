"""KAN: Kolmogorov-Arnold Networks (Liu et al., 2024, arXiv:2404.19756).

Every edge (i -> j) of a layer carries a learnable univariate activation (paper Eq. 2.10)

    phi_ji(x) = w_b,ji * silu(x) + w_s,ji * sum_m c_ji,m B_m(x)

where B_m are the order-k B-splines on a grid of G intervals over `grid_range`, extended by k knots
on each side; node j sums its incoming edges: x_{l+1,j} = sum_i phi_ji(x_{l,i}) (Eq. 2.5).

Initialisation follows the paper (Sec. 2.2, "Initialization scales"): w_s = 1, spline(x) ~ 0 by
drawing c ~ N(0, sigma^2) with sigma = 0.1, and w_b by Xavier initialisation. Grids adapt to the
activations that reach them (Sec. 2.2, "Update of spline grids"): `update_grid` places the knots at
sample quantiles, blended with a uniform grid by `grid_eps` as in the authors' pykan, and refits the
coefficients by least squares so the function is kept.

Departures from the paper: none in the maths. Parameters use pykan's layout and names (`coef`
(in, out, G+k), `scale_base`, `scale_sp`, per-input `grid`, `mask`) so results can be compared edge
by edge. pykan's symbolic branch is not part of the layer (it is a separate tool, not the network).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import KANConfig

__all__ = ["KAN", "KANLayer", "b_spline_basis", "extend_grid", "uniform_grid"]


def uniform_grid(in_features: int, grid_size: int, grid_range: tuple[float, float], k: int) -> torch.Tensor:
    """Knots of G uniform intervals over `grid_range`, extended by k knots per side: (in, G + 2k + 1)."""
    low, high = grid_range
    h = (high - low) / grid_size
    knots = torch.arange(-k, grid_size + k + 1, dtype=torch.float32) * h + low
    return knots.expand(in_features, -1).contiguous()


def extend_grid(grid: torch.Tensor, k: int) -> torch.Tensor:
    """Add k knots on each side of a (in, G + 1) grid, continuing its end spacing."""
    h_low = grid[:, 1:2] - grid[:, 0:1]
    h_high = grid[:, -1:] - grid[:, -2:-1]
    steps = torch.arange(1, k + 1, dtype=grid.dtype, device=grid.device)
    left = grid[:, 0:1] - h_low * steps.flip(0)
    right = grid[:, -1:] + h_high * steps
    return torch.cat([left, grid, right], dim=1)


def b_spline_basis(x: torch.Tensor, grid: torch.Tensor, k: int) -> torch.Tensor:
    """Order-k B-spline basis by the Cox-de Boor recursion.

    x: (batch, in); grid: (in, G + 2k + 1) knots. Returns (batch, in, G + k). Bases are zero
    outside the extended grid, as in the paper's definition.
    """
    x = x.unsqueeze(-1)
    bases = ((x >= grid[:, :-1]) & (x < grid[:, 1:])).to(x.dtype)
    for p in range(1, k + 1):
        left = (x - grid[:, : -(p + 1)]) / (grid[:, p:-1] - grid[:, : -(p + 1)])
        right = (grid[:, p + 1 :] - x) / (grid[:, p + 1 :] - grid[:, 1:-p])
        bases = left * bases[..., :-1] + right * bases[..., 1:]
    return bases


class KANLayer(nn.Module):
    """One KAN layer: in_features x out_features learnable activations, summed per output node."""

    def __init__(self, in_features: int, out_features: int, grid_size: int = 5, k: int = 3,
                 grid_range: tuple[float, float] = (-1.0, 1.0), noise_scale: float = 0.1,
                 grid_eps: float = 0.02):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.grid_size, self.k, self.grid_eps = grid_size, k, grid_eps
        self.register_buffer("grid", uniform_grid(in_features, grid_size, grid_range, k))
        self.coef = nn.Parameter(torch.randn(in_features, out_features, grid_size + k) * noise_scale)
        bound = math.sqrt(6.0 / (in_features + out_features))  # Xavier uniform
        self.scale_base = nn.Parameter(torch.empty(in_features, out_features).uniform_(-bound, bound))
        self.scale_sp = nn.Parameter(torch.ones(in_features, out_features))
        self.register_buffer("mask", torch.ones(in_features, out_features))

    def spline_weight(self) -> torch.Tensor:
        """(in * (G+k), out) matrix so that the spline part is basis.flatten(1) @ W."""
        w = (self.scale_sp * self.mask).unsqueeze(-1) * self.coef  # (in, out, G+k)
        return w.permute(0, 2, 1).reshape(-1, self.out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        basis = b_spline_basis(x, self.grid, self.k)  # (batch, in, G+k)
        spline = basis.flatten(1) @ self.spline_weight()
        base = F.silu(x) @ (self.scale_base * self.mask)
        return base + spline

    def spline(self, x: torch.Tensor) -> torch.Tensor:
        """Per-edge spline values sum_m c_ji,m B_m(x_i): (batch, in, out)."""
        return torch.einsum("bim,iom->bio", b_spline_basis(x, self.grid, self.k), self.coef)

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Move the knots to the sample quantiles of x (batch, in) and refit the coefficients so
        each spline keeps its values at the samples (least squares, in float64)."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"update_grid expects samples of shape (batch, {self.in_features}), got {tuple(x.shape)}")
        if not torch.isfinite(x).all():
            raise ValueError("update_grid samples contain NaN or inf; grids can only follow finite activations")
        batch = x.shape[0]
        if batch < 2:
            raise ValueError(f"update_grid needs at least 2 samples, got {batch}")
        x_sorted = torch.sort(x, dim=0).values
        old = self.spline(x_sorted).double()  # (batch, in, out)
        ids = [int(batch / self.grid_size * i) for i in range(self.grid_size)] + [-1]
        adaptive = x_sorted[ids, :].T  # (in, G+1)
        span = (adaptive[:, -1:] - adaptive[:, :1]).clamp_min(1e-4)  # a constant input still gets a grid
        uniform = adaptive[:, :1] + span / self.grid_size * torch.arange(
            self.grid_size + 1, dtype=x.dtype, device=x.device)
        knots = self.grid_eps * uniform + (1 - self.grid_eps) * adaptive
        # tied samples would give zero-width intervals (0/0 in Cox-de Boor): keep knots distinct
        knots = knots + torch.arange(self.grid_size + 1, device=x.device, dtype=x.dtype) * 1e-6
        self.grid.copy_(extend_grid(knots, self.k))
        self.coef.copy_(fit_coefficients(x_sorted, old, self.grid, self.k).to(self.coef.dtype))


def fit_coefficients(x: torch.Tensor, y: torch.Tensor, grid: torch.Tensor, k: int,
                     ridge: float = 1e-8) -> torch.Tensor:
    """Least-squares spline coefficients (in, out, G+k) with sum_m c_m B_m(x) ~ y for x (batch, in),
    y (batch, in, out). A tiny ridge keeps it solvable when an interval holds no samples."""
    basis = b_spline_basis(x.double(), grid.double(), k).permute(1, 0, 2)  # (in, batch, G+k)
    gram = basis.transpose(1, 2) @ basis  # (in, G+k, G+k)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    rhs = basis.transpose(1, 2) @ y.double().permute(1, 0, 2)  # (in, G+k, out)
    coef = torch.linalg.solve(gram + ridge * eye, rhs)  # (in, G+k, out)
    return coef.permute(0, 2, 1)


class KAN(nn.Module):
    """A stack of KAN layers of widths `config.width` (paper Eq. 2.7: KAN(x) = Phi_L o ... o Phi_0 (x))."""

    def __init__(self, config: KANConfig | None = None):
        super().__init__()
        self.config = config = config or KANConfig()
        self.layers = nn.ModuleList(
            KANLayer(n_in, n_out, config.grid, config.k, tuple(config.grid_range), config.noise_scale,
                     config.grid_eps)
            for n_in, n_out in zip(config.width[:-1], config.width[1:])
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[-1] != self.config.width[0]:
            raise ValueError(f"KAN expects input of shape (batch, {self.config.width[0]}), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"KAN expects a floating-point input, got {x.dtype}")
        lead = x.shape[:-1]
        x = x.reshape(-1, x.shape[-1])
        for layer in self.layers:
            x = layer(x)
        return x.reshape(*lead, x.shape[-1])

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        """Adapt every layer's grid to the activations that x produces there (paper Sec. 2.2)."""
        x = x.reshape(-1, self.config.width[0])
        for layer in self.layers:
            layer.update_grid(x)
            x = layer(x)
