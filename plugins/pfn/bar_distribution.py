"""The Riemann ("bar") distribution of PFNs (Mueller et al., 2022, arXiv:2112.10510):
the real line is cut into K bars at fixed borders, the network outputs K logits, and the predictive
density is piecewise constant, p_k / width_k on bar k. For full support the two outer bars are
replaced by half-normals that continue to -inf and +inf, each scaled so that half of its mass lies
within the outer bar's width (as in the authors' FullSupportBarDistribution).

Borders have equal probability under N(0, std^2), the y marginal of a GP prior with unit-free
scale: the paper places borders so every bar holds the same share of prior samples.
"""

from __future__ import annotations

import math

import torch
from torch import nn

__all__ = ["BarDistribution", "equal_probability_borders"]

_HALFNORMAL_MEDIAN = math.sqrt(2) * torch.erfinv(torch.tensor(0.5)).item()  # Phi^-1(0.75)
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


def equal_probability_borders(num_buckets: int, std: float) -> torch.Tensor:
    """K + 1 borders with 1/(K+1) of N(0, std^2) in each bar and half of that beyond each end."""
    q = (torch.arange(num_buckets + 1, dtype=torch.float64) + 0.5) / (num_buckets + 1)
    return (std * math.sqrt(2) * torch.erfinv(2 * q - 1)).float()


class BarDistribution(nn.Module):
    """Log-density, mean and variance of the full-support bar distribution given logits (..., K)."""

    def __init__(self, borders: torch.Tensor):
        super().__init__()
        # a meta-device build (the zoo's size check) has the shape but no values to check
        increasing = borders.is_meta or bool((borders[1:] > borders[:-1]).all())
        if borders.dim() != 1 or len(borders) < 4 or not increasing:
            raise ValueError(f"borders must be a strictly increasing 1D tensor of >= 4 values, got {tuple(borders.shape)}")
        self.register_buffer("borders", borders)

    @property
    def num_buckets(self) -> int:
        return len(self.borders) - 1

    def _widths_and_scales(self):
        widths = self.borders[1:] - self.borders[:-1]
        return widths, widths[0] / _HALFNORMAL_MEDIAN, widths[-1] / _HALFNORMAL_MEDIAN

    def log_prob(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log p(y) for logits (..., K) and y (...)."""
        if logits.shape[-1] != self.num_buckets or logits.shape[:-1] != y.shape:
            raise ValueError(f"bar distribution expects logits (..., {self.num_buckets}) and targets (...) with the "
                             f"same leading shape, got {tuple(logits.shape)} and {tuple(y.shape)}")
        widths, left_scale, right_scale = self._widths_and_scales()
        b = self.borders
        bucket = (torch.searchsorted(b, y.contiguous(), right=True) - 1).clamp(0, self.num_buckets - 1)
        log_p = torch.log_softmax(logits.float(), -1).gather(-1, bucket.unsqueeze(-1)).squeeze(-1)
        inner = log_p - widths.log()[bucket]

        def halfnormal(distance, scale):
            return math.log(_SQRT_2_OVER_PI) - scale.log() - 0.5 * (distance / scale) ** 2

        left = log_p + halfnormal(b[1] - y, left_scale)
        right = log_p + halfnormal(y - b[-2], right_scale)
        return torch.where(bucket == 0, left, torch.where(bucket == self.num_buckets - 1, right, inner))

    def _moments(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(E[y], E[y^2]) under the distribution."""
        widths, left_scale, right_scale = self._widths_and_scales()
        lo, hi = self.borders[:-1], self.borders[1:]
        mean_k = (lo + hi) / 2
        square_k = (lo ** 2 + lo * hi + hi ** 2) / 3
        edge_l, edge_r = hi[0], lo[-1]
        mean_k = torch.cat([(edge_l - left_scale * _SQRT_2_OVER_PI).reshape(1), mean_k[1:-1],
                            (edge_r + right_scale * _SQRT_2_OVER_PI).reshape(1)])
        square_k = torch.cat([
            (edge_l ** 2 - 2 * edge_l * left_scale * _SQRT_2_OVER_PI + left_scale ** 2).reshape(1),
            square_k[1:-1],
            (edge_r ** 2 + 2 * edge_r * right_scale * _SQRT_2_OVER_PI + right_scale ** 2).reshape(1)])
        probs = torch.softmax(logits.float(), -1)
        return probs @ mean_k, probs @ square_k

    def mean(self, logits: torch.Tensor) -> torch.Tensor:
        return self._moments(logits)[0]

    def variance(self, logits: torch.Tensor) -> torch.Tensor:
        mean, square = self._moments(logits)
        return (square - mean ** 2).clamp_min(0)
