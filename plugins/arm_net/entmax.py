"""alpha-entmax (Peters, Niculae & Martins, 2019): the sparse normalising map ARM-Net's attention uses,

    entmax_alpha(z) = argmax_{p in simplex} p^T z + H^T_alpha(p),   p_i = [(alpha - 1) z_i - tau]_+^(1 / (alpha - 1)),

with tau the threshold that makes p sum to 1. alpha -> 1 is softmax, alpha = 2 is sparsemax; alpha > 1 gives
exact zeros. tau is found by Newton's method (1 < alpha <= 2); the backward pass uses the closed-form Jacobian
J = diag(s) - s s^T / sum(s), s_i = p_i^(2 - alpha) on the support and 0 off it."""

from __future__ import annotations

import torch

__all__ = ["entmax", "sparsemax"]


def _threshold_newton(z: torch.Tensor, alpha: float, dim: int, iterations: int) -> torch.Tensor:
    """p = entmax_alpha(z). tau solves f(tau) = sum_i [(alpha - 1) z_i - tau]_+^(1 / (alpha - 1)) - 1 = 0; for
    1 < alpha <= 2, f is convex and decreasing, so Newton's method started left of the root (tau = max - 1, where
    the largest entry alone gives 1) climbs to it monotonically, without overshooting, and quadratically fast
    (for alpha = 2, sparsemax, f is piecewise linear and the iteration is exact once the support is found)."""
    scaled = z * (alpha - 1.0)
    power = 1.0 / (alpha - 1.0)
    tau = scaled.amax(dim, keepdim=True) - 1.0
    for _ in range(iterations):
        u = torch.clamp(scaled - tau, min=0)
        # u^(p - 1), 0 off the support (torch gives 0^0 = 1 for sparsemax's p - 1 = 0); u^p = u * u^(p - 1)
        lower = torch.where(u > 0, u.pow(power - 1.0), torch.zeros_like(u))
        f = (u * lower).sum(dim, keepdim=True) - 1.0
        slope = power * lower.sum(dim, keepdim=True)                 # -f'(tau), > 0 while the max is in the support
        tau = tau + f / slope
    p = torch.clamp(scaled - tau, min=0).pow(power)
    return p / p.sum(dim, keepdim=True)


class _Entmax(torch.autograd.Function):
    @staticmethod
    def forward(ctx, z, alpha, dim, iterations):
        p = _threshold_newton(z.detach(), alpha, dim, iterations)
        ctx.save_for_backward(p)
        ctx.alpha, ctx.dim = alpha, dim
        return p

    @staticmethod
    def backward(ctx, grad):
        (p,) = ctx.saved_tensors
        s = torch.where(p > 0, p.pow(2.0 - ctx.alpha), torch.zeros_like(p))
        grad_z = s * grad - s * (s * grad).sum(ctx.dim, keepdim=True) / s.sum(ctx.dim, keepdim=True)
        return grad_z, None, None, None


def entmax(z: torch.Tensor, alpha: float = 1.5, dim: int = -1, iterations: int = 8) -> torch.Tensor:
    """alpha-entmax of `z` along `dim`, 1 < alpha <= 2. `iterations` Newton steps for the threshold tau (6 reach
    float64 precision on the inputs we tried, 8 are used; p is renormalised to sum to 1 after)."""
    if not 1.0 < alpha <= 2.0:
        raise ValueError(f"entmax here needs 1 < alpha <= 2 (1 is softmax, 2 sparsemax), got {alpha}")
    return _Entmax.apply(z, float(alpha), dim, iterations)


def sparsemax(z: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """sparsemax (Martins & Astudillo, 2016): the Euclidean projection of z onto the simplex, entmax with alpha = 2."""
    return entmax(z, 2.0, dim)
