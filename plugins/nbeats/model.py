"""N-BEATS: Neural basis expansion analysis for interpretable time series forecasting (Oreshkin,
Carpov, Chapados and Bengio, 2019, arXiv:1905.10437).

A block l takes its input x_l (the lookback window minus what earlier blocks explained) through
num_layers fully connected ReLU layers, then two linear heads give expansion coefficients
theta^b_l, theta^f_l, and a basis g turns them into a backcast x_hat_l and a forecast y_hat_l
(paper Eq. 1-2). Doubly residual stacking (Eq. 3): x_l = x_{l-1} - x_hat_{l-1}, and the model's
forecast is the sum of every block's partial forecast.

Bases (Sec. 3.3), with time t = [0, 1, ..., H-1] / H over the horizon:
- generic: learnable linear maps y_hat = V^f theta^f + b^f, x_hat = V^b theta^b + b^b;
- trend: T = [1, t, ..., t^p], y_hat = T theta^f (Eq. 4): slowly varying, by construction;
- seasonality: S = [1, cos(2 pi t), ..., cos(2 pi floor(H/2 - 1) t), sin(2 pi t), ...], a Fourier
  basis (Eq. 5), y_hat = S theta^f.
The backcast uses the same functions on the lookback's times, continuing the axis backwards:
t_b = [-L, ..., -1] / H (the paper defines t only on the horizon; this keeps a trend or a season
one function across past and future). The interpretable configuration (N-BEATS-I) is a trend stack
followed by a seasonality stack, with weights shared within each stack; `decompose` returns each
stack's forecast, i.e. the trend and seasonality components.

Departures from the paper: generic blocks pass theta through a linear bottleneck of
`generic_theta_dim` (32) before V^b, V^f; the paper leaves the size of theta open and the authors'
code sizes it L + H (set generic_theta_dim to L + H for that). Sizes (30 stacks of width 512 for N-BEATS-G)
are the paper's defaults; the reproduction scales them down through the config. The paper's
ensemble of 180 models (3 losses x 6 lookbacks x 10 seeds) is a training protocol, not part of
the network, and is not run here.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import NBeatsConfig

__all__ = ["NBeats", "NBeatsBlock", "trend_basis", "seasonality_basis"]


def _times(input_size: int, horizon: int) -> tuple[torch.Tensor, torch.Tensor]:
    backcast = torch.arange(-input_size, 0, dtype=torch.float64) / horizon
    forecast = torch.arange(horizon, dtype=torch.float64) / horizon
    return backcast, forecast


def trend_basis(t: torch.Tensor, degree: int) -> torch.Tensor:
    """(degree+1, len(t)) rows t^0 .. t^p (paper Eq. 4)."""
    return torch.stack([t**i for i in range(degree + 1)]).float()


def seasonality_basis(t: torch.Tensor, horizon: int) -> torch.Tensor:
    """Rows [1, cos(2 pi i t) for i = 1..floor(H/2-1), sin(2 pi i t) for i = 1..floor(H/2-1)] (Eq. 5).

    cos at i = 0 is the constant row; sin at i = 0 is identically zero and is left out.
    """
    harmonics = torch.arange(1, int(math.floor(horizon / 2 - 1)) + 1, dtype=torch.float64)
    angles = 2 * math.pi * harmonics.unsqueeze(1) * t.unsqueeze(0)
    return torch.cat([torch.ones(1, len(t), dtype=torch.float64), torch.cos(angles), torch.sin(angles)]).float()


class NBeatsBlock(nn.Module):
    """FC stack -> (theta^b, theta^f) -> basis -> (backcast (B, L), forecast (B, H))."""

    def __init__(self, kind: str, input_size: int, horizon: int, width: int, num_layers: int,
                 generic_theta_dim: int, trend_degree: int):
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(num_layers):
            layers += [nn.Linear(input_size if i == 0 else width, width), nn.ReLU()]
        self.fc = nn.Sequential(*layers)
        self.kind = kind
        if kind == "generic":
            self.theta_b = nn.Linear(width, generic_theta_dim, bias=False)
            self.theta_f = nn.Linear(width, generic_theta_dim, bias=False)
            self.backcast_basis = nn.Linear(generic_theta_dim, input_size)  # V^b theta^b + b^b
            self.forecast_basis = nn.Linear(generic_theta_dim, horizon)
            return
        t_b, t_f = _times(input_size, horizon)
        if kind == "trend":
            basis_b, basis_f = trend_basis(t_b, trend_degree), trend_basis(t_f, trend_degree)
        else:
            basis_b, basis_f = seasonality_basis(t_b, horizon), seasonality_basis(t_f, horizon)
        # fixed functions, not parameters: kept out of the state dict, rebuilt from the config
        self.register_buffer("basis_b", basis_b, persistent=False)
        self.register_buffer("basis_f", basis_f, persistent=False)
        self.theta_b = nn.Linear(width, basis_b.shape[0], bias=False)
        self.theta_f = nn.Linear(width, basis_f.shape[0], bias=False)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.fc(x)
        theta_b, theta_f = self.theta_b(h), self.theta_f(h)
        if self.kind == "generic":
            return self.backcast_basis(theta_b), self.forecast_basis(theta_f)
        return theta_b @ self.basis_b, theta_f @ self.basis_f


class NBeats(nn.Module):
    """N-BEATS. forward(x: (B, input_size) or (B, input_size, 1) lookback) -> (B, horizon) point forecast."""

    def __init__(self, config: NBeatsConfig | None = None):
        super().__init__()
        self.config = config = config or NBeatsConfig()
        self.stacks = nn.ModuleList()
        for kind, width in zip(config.stack_types, config.layer_widths):
            def block() -> NBeatsBlock:
                return NBeatsBlock(kind, config.input_size, config.horizon, width, config.num_layers,
                                   config.generic_theta_dim, config.trend_degree)
            count = 1 if config.share_weights_in_stack else config.blocks_per_stack
            self.stacks.append(nn.ModuleList(block() for _ in range(count)))
        if not config.share_weights_in_stack:
            # as in the paper, the final block has a backcast head whose output nothing reads; kept so the
            # layout and the seeded initialisation stay the paper's (and the recorded runs')
            last = f"stacks.{len(self.stacks) - 1}.{len(self.stacks[-1]) - 1}"
            heads = [name for name in ("theta_b", "backcast_basis") if hasattr(self.stacks[-1][-1], name)]
            self.zoo_gradient_exempt = {f"{last}.{head}.*": "the final block's backcast is never read" for head in heads}

    def _blocks(self, stack: nn.ModuleList):
        """The blocks of a stack in order: one module applied K times when weights are shared."""
        if self.config.share_weights_in_stack:
            return [stack[0]] * self.config.blocks_per_stack
        return list(stack)

    def decompose(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Each stack's partial forecast (B, H); they sum to the forecast (trend, seasonality for N-BEATS-I)."""
        L = self.config.input_size
        if x.dim() == 3 and x.shape[-1] == 1:
            x = x.squeeze(-1)  # a univariate series given with a feature axis
        if x.dim() != 2 or x.shape[1] != L:
            raise ValueError(f"NBeats expects a lookback window of shape (batch, {L}) or (batch, {L}, 1), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"NBeats expects a floating-point series, got {x.dtype}")
        residual, parts = x, []
        for stack in self.stacks:
            part = x.new_zeros(x.shape[0], self.config.horizon)
            for block in self._blocks(stack):
                backcast, forecast = block(residual)
                residual = residual - backcast
                part = part + forecast
            parts.append(part)
        return parts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack(self.decompose(x)).sum(0)
