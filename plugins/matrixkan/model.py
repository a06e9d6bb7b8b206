"""MatrixKAN: Parallelized Kolmogorov-Arnold Network (Coffman & Chen, 2025, arXiv:2502.07176).

A KAN (arXiv:2404.19756) whose B-spline basis is evaluated without the k-level Cox-de Boor
recursion. On a uniform grid with spacing h, an input x falls in interval j = floor((x - t_0) / h)
at local position u = (x - t_0) / h - j in [0, 1). Only the k+1 B-splines B_{j-k}, ..., B_j are
non-zero there, and their values are one vector-matrix product

    [B_{j-k}(x), ..., B_j(x)] = [1, u, u^2, ..., u^k] @ Psi^k

where Psi^k is the (k+1) x (k+1) uniform B-spline basis matrix, computed once per degree by a
recursion on the spline order. The k+1 values are then placed at columns j-k..j of the
(G+k)-wide basis ("gathered by interval"), and the spline contraction is the same matrix product as
in KAN. The edge functions, parameters and initialisation are KAN's: a KAN's state dict loads
unchanged into a MatrixKAN of the same config, and `MatrixKAN.from_kan` converts a trained KAN.

Departures from the paper:
- Non-uniform grids. Psi^k only describes uniform knots; the paper's code keeps using it after a
  grid update has made the knots non-uniform, which silently changes the function. Here
  `basis_matrix="uniform"` keeps grids uniform instead (`update_grid` places uniform knots over the
  sample range, i.e. grid_eps is treated as 1) and refuses to load a non-uniform grid. The option
  `basis_matrix="per-interval"` (an extension, not in the paper) precomputes one (k+1) x (k+1)
  matrix per interval from the knots (fitted to the Cox-de Boor basis, recomputed whenever the grid
  changes), gathered by interval the same way; it is exact on any grid.
- The paper keeps Psi^k in float64; here it is applied in the input's dtype (float32 rounding of
  its entries is far below float32 arithmetic error).
"""

from __future__ import annotations

import contextlib
import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo_plugins.kan.model import KAN, KANLayer, b_spline_basis

from .config import MatrixKANConfig

__all__ = ["MatrixKAN", "MatrixKANLayer", "uniform_basis_matrix", "interval_basis_matrices", "is_uniform_grid"]


def uniform_basis_matrix(k: int) -> torch.Tensor:
    """Psi^k, (k+1, k+1) in float64: row p holds the u^p coefficients, column r the B-spline
    B_{j-k+r} on interval j of a uniform grid. Built by recursion on the spline order:
    Psi_{n} = (pad_below(Psi_{n-1}) @ A_n + pad_above(Psi_{n-1}) @ D_n) / (n - 1)."""
    if k < 0:
        raise ValueError(f"spline degree k must be >= 0, got {k}")
    psi = torch.ones(1, 1, dtype=torch.float64)
    for order in range(2, k + 2):  # order = degree + 1; psi is (order-1) x (order-1) coming in
        rows = torch.arange(order - 1)
        ramp = rows.double()
        grow = torch.zeros(order - 1, order, dtype=torch.float64)
        grow[rows, rows] = ramp + 1.0
        grow[rows, rows + 1] = order - 2.0 - ramp
        shift = torch.zeros(order - 1, order, dtype=torch.float64)
        shift[rows, rows] = -1.0
        shift[rows, rows + 1] = 1.0
        psi = (F.pad(psi, (0, 0, 0, 1)) @ grow + F.pad(psi, (0, 0, 1, 0)) @ shift) / (order - 1)
    return psi


_BASIS_BLOCK = 1 << 20  # padded basis values evaluated at a time by interval_basis_matrices


def interval_basis_matrices(grid: torch.Tensor, k: int) -> torch.Tensor:
    """One basis matrix per grid interval, for any (non-uniform) knots: (in, n_intervals, k+1, k+1)
    in float64, laid out as Psi^k (row = power of the local coordinate u, column = B_{j-k+r}).

    On each interval the k+1 non-zero B-splines are polynomials of degree k in u, so their
    coefficients follow exactly from their Cox-de Boor values at k+1 points inside the interval."""
    knots = grid.detach().double()
    n_in, n_intervals = knots.shape[0], knots.shape[1] - 1
    m = torch.arange(k + 1, dtype=torch.float64, device=knots.device)
    u = 0.5 - 0.5 * torch.cos((2 * m + 1) * math.pi / (2 * (k + 1)))  # Chebyshev points: well conditioned
    width = knots[:, 1:] - knots[:, :-1]
    x = knots[:, :-1, None] + width[..., None] * u  # (in, n_intervals, k+1)
    # A point's full basis has G+k columns of which only k+1 are non-zero: evaluated for every point
    # at once that is (in, G, G) values (11e9 for 1000 inputs on 1000 intervals). The recursion is
    # pointwise, so blocks of inputs and intervals give the same values in memory linear in G.
    padded_width = knots.shape[1] + k - 1  # G + 3k columns once padded
    per_interval = (k + 1) * padded_width
    intervals_per_block = max(1, _BASIS_BLOCK // per_interval)
    inputs_per_block = max(1, _BASIS_BLOCK // (per_interval * n_intervals))
    local = torch.empty(n_in, n_intervals, k + 1, k + 1, dtype=torch.float64, device=knots.device)
    for i0 in range(0, n_in, inputs_per_block):
        rows = slice(i0, min(i0 + inputs_per_block, n_in))
        for j0 in range(0, n_intervals, intervals_per_block):
            j1 = min(j0 + intervals_per_block, n_intervals)
            block = x[rows, j0:j1]  # (ni, nj, k+1)
            ni, nj = block.shape[0], block.shape[1]
            values = b_spline_basis(block.reshape(ni, -1).T, knots[rows], k)  # (nj*(k+1), ni, G+k)
            values = F.pad(values, (k, k))  # column j + r of the padded basis is B_{j-k+r}
            values = values.reshape(nj, k + 1, ni, -1).permute(2, 0, 1, 3)  # (ni, nj, k+1 pts, G+3k)
            columns = torch.arange(j0, j1, device=knots.device)[:, None] + torch.arange(k + 1, device=knots.device)
            local[rows, j0:j1] = values.gather(-1, columns[None, :, None, :].expand(ni, -1, k + 1, -1))
    vandermonde = u[:, None] ** torch.arange(k + 1, dtype=torch.float64, device=knots.device)
    return torch.linalg.solve(vandermonde, local)


def is_uniform_grid(grid: torch.Tensor, rtol: float = 1e-4) -> bool:
    """Whether every input's knots are equally spaced (within rtol of the first spacing)."""
    spacing = grid.diff(dim=1)
    return bool(((spacing - spacing[:, :1]).abs() <= rtol * spacing[:, :1].abs()).all())


def _power_basis(u: torch.Tensor, k: int) -> torch.Tensor:
    """[1, u, ..., u^k] along a new last axis (by products, so the gradient at u = 0 is finite)."""
    terms = [torch.ones_like(u)]
    for _ in range(k):
        terms.append(terms[-1] * u)
    return torch.stack(terms, dim=-1)


class MatrixKANLayer(KANLayer):
    """A KANLayer (same parameters, same function) whose basis is evaluated by the matrix method."""

    def __init__(self, in_features: int, out_features: int, grid_size: int = 5, k: int = 3,
                 grid_range: tuple[float, float] = (-1.0, 1.0), noise_scale: float = 0.1,
                 grid_eps: float = 0.02, basis_matrix: str = "uniform"):
        if basis_matrix not in ("uniform", "per-interval"):
            raise ValueError(f"basis_matrix must be 'uniform' or 'per-interval', got {basis_matrix!r}")
        super().__init__(in_features, out_features, grid_size, k, grid_range, noise_scale, grid_eps)
        self.basis_matrix = basis_matrix
        # derived from k / the grid, so kept out of the state dict: a KAN's state dict loads as is
        self.register_buffer("psi", uniform_basis_matrix(k).float(), persistent=False)
        self.register_buffer("interval_matrices", torch.empty(0), persistent=False)
        self.register_load_state_dict_post_hook(lambda module, _keys: module._grid_changed())
        self._grid_changed()

    @classmethod
    def from_kan_layer(cls, layer: KANLayer, basis_matrix: str = "uniform") -> MatrixKANLayer:
        """A MatrixKANLayer holding a copy of `layer`'s parameters and grid."""
        new = cls(layer.in_features, layer.out_features, layer.grid_size, layer.k,
                  grid_eps=layer.grid_eps, basis_matrix=basis_matrix)
        new.load_state_dict(layer.state_dict())
        return new.to(layer.coef.device)

    def _grid_changed(self) -> None:
        if self.basis_matrix == "uniform":
            # a meta-device build (the zoo's size check) has shapes but no knots to check
            if not self.grid.is_meta and not is_uniform_grid(self.grid):
                raise ValueError(
                    "basis_matrix='uniform' needs equally spaced knots (the paper's single basis matrix), but "
                    "this grid is non-uniform (e.g. a KAN trained with update_grid); use basis_matrix='per-interval'")
        else:
            self.interval_matrices = interval_basis_matrices(self.grid, self.k).to(self.coef.dtype)

    def basis(self, x: torch.Tensor) -> torch.Tensor:
        """B-spline basis of x (batch, in): (batch, in, G+k), equal to `b_spline_basis` on this grid."""
        grid, k = self.grid, self.k
        n_intervals = grid.shape[1] - 1
        if self.basis_matrix == "uniform":
            position = (x - grid[:, 0]) / (grid[:, 1] - grid[:, 0])  # in units of the knot spacing
            interval = torch.floor(position)
            local = _power_basis(position - interval, k) @ self.psi.to(x.dtype)  # (batch, in, k+1)
            interval = interval.long()
        else:
            interval = torch.searchsorted(grid, x.T.contiguous(), right=True).T - 1
            inputs = torch.arange(self.in_features, device=x.device)
            row = interval.clamp(0, n_intervals - 1) + inputs * n_intervals  # (input, interval) row of the tables
            knot = row + inputs  # the interval's left knot in the flattened grid
            left, right = grid.flatten()[knot], grid.flatten()[knot + 1]
            u = ((x - left) / (right - left)).clamp(0, 1).unsqueeze(-1)  # outside the grid: finite, dropped below
            # [1, u, ..., u^k] @ matrix by Horner's rule over the matrix rows gathered for each input
            tables = self.interval_matrices.flatten(0, 1).to(x.dtype)  # (in * n_intervals, k+1, k+1)
            local = tables[row, k]
            for power in range(k - 1, -1, -1):
                local = local * u + tables[row, power]
        # column 2k+1+m holds B_m; inputs outside the extended grid (where every B-spline vanishes)
        # write their k+1 values into spare columns on either side, which are dropped
        slot = interval.clamp(-(k + 1), n_intervals) + (k + 1)
        columns = slot.unsqueeze(-1) + torch.arange(k + 1, device=x.device)
        padded = x.new_zeros(*x.shape, n_intervals + 2 * k + 2).scatter(-1, columns, local)
        return padded[..., 2 * k + 1 : n_intervals + k + 1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        spline = self.basis(x).flatten(1) @ self.spline_weight()
        return F.silu(x) @ (self.scale_base * self.mask) + spline

    def spline(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bim,iom->bio", self.basis(x), self.coef)

    def activations(self, x: torch.Tensor) -> torch.Tensor:
        """Per-edge activations phi_ji(x_i) (batch, in, out), masked (for the KAN toolkit)."""
        return (F.silu(x).unsqueeze(-1) * self.scale_base + self.scale_sp * self.spline(x)) * self.mask

    @contextlib.contextmanager
    def _grid_updates_kept_uniform(self):
        """In 'uniform' mode, grid updates place equally spaced knots (grid_eps = 1) so that
        Psi^k keeps describing them."""
        grid_eps = self.grid_eps
        if self.basis_matrix == "uniform":
            self.grid_eps = 1.0
        try:
            yield
        finally:
            self.grid_eps = grid_eps

    @torch.no_grad()
    def update_grid(self, x: torch.Tensor) -> None:
        with self._grid_updates_kept_uniform():
            super().update_grid(x)
        self._grid_changed()

    @torch.no_grad()
    def refined(self, grid_size: int, x: torch.Tensor | None = None) -> MatrixKANLayer:
        """Grid extension (KAN paper Sec. 2.4) onto `grid_size` intervals, as a MatrixKANLayer."""
        with self._grid_updates_kept_uniform():
            layer = MatrixKANLayer.from_kan_layer(super().refined(grid_size, x), self.basis_matrix)
        layer.grid_eps = self.grid_eps
        return layer


class MatrixKAN(KAN):
    """A KAN (same config fields, same parameters, same initialisation under a seed) built from
    MatrixKANLayers."""

    def __init__(self, config: MatrixKANConfig | None = None):
        config = config or MatrixKANConfig()
        super().__init__(config)
        self.layers = nn.ModuleList(MatrixKANLayer.from_kan_layer(layer, config.basis_matrix) for layer in self.layers)

    @classmethod
    def from_kan(cls, kan: KAN, basis_matrix: str = "uniform") -> MatrixKAN:
        """A MatrixKAN computing the same function as a (trained) KAN, with a copy of its weights."""
        config = MatrixKANConfig(**{**kan.config.model_dump(), "basis_matrix": basis_matrix})
        model = cls(config).to(next(kan.parameters()).device)
        model.load_state_dict(kan.state_dict())
        return model

    def _as_matrix_kan(self, kan: KAN) -> MatrixKAN:
        """The KAN toolkit builds plain KANs; give the result back as a MatrixKAN."""
        model = MatrixKAN.from_kan(kan, self.config.basis_matrix).train(kan.training)
        if hasattr(kan, "zoo_identity"):
            model.zoo_identity = kan.zoo_identity
        return model

    def refine(self, grid: int, x: torch.Tensor | None = None) -> MatrixKAN:
        """Grid extension (KAN paper Sec. 2.4), as a MatrixKAN of the same basis_matrix mode."""
        return self._as_matrix_kan(super().refine(grid, x))

    def prune(self, x: torch.Tensor, threshold: float = 1e-2, edge_threshold: float | None = None) -> MatrixKAN:
        """Node pruning (KAN paper Sec. 2.5.1), as a MatrixKAN of the same basis_matrix mode."""
        return self._as_matrix_kan(super().prune(x, threshold, edge_threshold))
