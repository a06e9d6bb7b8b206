"""The convolutional baseline of the reproduction: ST-ResNet (Zhang, Zheng & Qi, AAAI 2017), the
closeness / period / trend model MLPST is compared with. Each interval has its own branch, a 3x3
convolution, `units` residual units (ReLU, conv, ReLU, conv, plus the skip) and a 3x3 convolution
back to the flow channels; the branches are fused by learned per-cell weights (the paper's
parametric-matrix fusion), and tanh maps to the [-1, 1] scaled flows. No external factors."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["STResNet"]


class ResidualUnit(nn.Module):
    def __init__(self, filters: int):
        super().__init__()
        self.body = nn.Sequential(nn.ReLU(), nn.Conv2d(filters, filters, 3, padding=1), nn.ReLU(),
                                  nn.Conv2d(filters, filters, 3, padding=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class STResNet(nn.Module):
    """(batch, lc + lp + lt, C, H, W) -> (batch, C * H * W)."""

    def __init__(self, closeness: int, period: int, trend: int, channels: int, height: int, width: int, *,
                 filters: int = 64, units: int = 4):
        super().__init__()
        self.intervals = [n for n in (closeness, period, trend) if n > 0]
        self.branches = nn.ModuleList(
            nn.Sequential(nn.Conv2d(n * channels, filters, 3, padding=1), *[ResidualUnit(filters) for _ in range(units)],
                          nn.ReLU(), nn.Conv2d(filters, channels, 3, padding=1)) for n in self.intervals)
        self.fusion = nn.Parameter(torch.ones(len(self.intervals), channels, height, width) / len(self.intervals))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, start = 0, 0
        for i, (n, branch) in enumerate(zip(self.intervals, self.branches)):
            out = out + self.fusion[i] * branch(x[:, start:start + n].flatten(1, 2))
            start += n
        return torch.tanh(out).flatten(1)
