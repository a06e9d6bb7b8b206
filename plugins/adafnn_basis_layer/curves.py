"""Random functional data: curves X(t) = sum_k c_k phi_k(t) on an observation grid of [0, 1], with
independent Gaussian coefficients c_k ~ N(0, lambda_k) and optional measurement noise, the usual
generative model of functional data analysis (Karhunen-Loeve expansion with a known basis).

Shared by the functional-data plugins (`adafnn-basis-layer` and `functional-nn`). numpy only.
"""

from __future__ import annotations

import numpy as np

__all__ = ["observation_grid", "fourier_basis", "trapezoid_weights", "random_curves"]


def observation_grid(points: int) -> np.ndarray:
    """`points` equally spaced times from 0 to 1 (both included)."""
    if not isinstance(points, (int, np.integer)) or points < 2:
        raise ValueError(f"an observation grid needs an integer number of points >= 2, got {points!r}")
    return np.linspace(0.0, 1.0, int(points))


def fourier_basis(grid: np.ndarray, count: int) -> np.ndarray:
    """The first `count` Fourier functions on [0, 1], orthonormal in L2[0, 1], evaluated on `grid`:
    phi_1 = 1, phi_{2m} = sqrt(2) cos(2 pi m t), phi_{2m+1} = sqrt(2) sin(2 pi m t). Shape (count, len(grid))."""
    if not isinstance(count, (int, np.integer)) or count < 1:
        raise ValueError(f"fourier_basis needs count >= 1, got {count!r}")
    grid = np.asarray(grid, dtype=np.float64)
    rows = [np.ones_like(grid)]
    for k in range(2, count + 1):
        m = k // 2
        wave = np.cos if k % 2 == 0 else np.sin
        rows.append(np.sqrt(2.0) * wave(2 * np.pi * m * grid))
    return np.stack(rows)


def trapezoid_weights(grid: np.ndarray) -> np.ndarray:
    """Weights w with sum_j w_j f(t_j) = the trapezoidal rule for the integral of f over the grid."""
    grid = np.asarray(grid, dtype=np.float64)
    if grid.ndim != 1 or len(grid) < 2 or np.any(np.diff(grid) <= 0):
        raise ValueError(f"trapezoid_weights needs an increasing 1-D grid of >= 2 points, got shape {grid.shape}")
    gaps = np.diff(grid)
    weights = np.zeros_like(grid)
    weights[:-1] += gaps / 2
    weights[1:] += gaps / 2
    return weights


def random_curves(n: int, grid: np.ndarray, rng: np.random.Generator, *, variances, noise: float = 0.0,
                  basis: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """`n` curves X_i(t_j) = sum_k c_ik phi_k(t_j) + e_ij with c_ik ~ N(0, variances[k]) and
    e_ij ~ N(0, noise^2); phi is `basis` (K, len(grid)) or the Fourier basis. Returns the curves
    (n, len(grid)) and the coefficients (n, K)."""
    variances = np.asarray(variances, dtype=np.float64)
    if variances.ndim != 1 or len(variances) == 0 or np.any(variances < 0):
        raise ValueError(f"variances must be a non-empty 1-D sequence of values >= 0, got {variances!r}")
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"random_curves needs n >= 1 curves, got {n!r}")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0, got {noise!r}")
    grid = np.asarray(grid, dtype=np.float64)
    basis = fourier_basis(grid, len(variances)) if basis is None else np.asarray(basis, dtype=np.float64)
    if basis.shape != (len(variances), len(grid)):
        raise ValueError(f"basis must have shape {(len(variances), len(grid))} (one row per variance), "
                         f"got {basis.shape}")
    coefficients = rng.normal(size=(n, len(variances))) * np.sqrt(variances)
    curves = coefficients @ basis + noise * rng.normal(size=(n, len(grid)))
    return curves, coefficients
