"""DyAd (Wang, Walters & Yu, NeurIPS 2022, "Meta-Learning Dynamics Forecasting Using Task Inference").

Two parts (the paper's method):
- an encoder g_phi that reads the start of a sequence and infers a time-invariant task code
  z = g_phi(x_{1:k}); it is weakly supervised: the leading entries of z are regressed on the known
  physical parameters c of the sequence (L_weak = ||z_p - c||^2), and codes inferred from different
  windows of the same sequence are pulled together (L_inv, time-shift invariance);
- a forecaster f_theta shared by all tasks, whose hidden layers are modulated by z through
  adaptive instance normalisation (AdaIN):

      AdaIN(h, z) = sigma(z) * (h - mu_t(h)) / s_t(h) + m(z),

  mu_t and s_t the per-channel mean and std over time, sigma and m linear maps of z; and through
  adaptive padding (AdaPad): the borders of each convolution's input are padded with values
  generated from z instead of zeros, so the code also sets the boundary conditions.
The training loss is L = L_forecast + alpha L_weak + beta L_inv.

Here the forecaster is a 1-D convolutional ResNet over the lookback window (channels = state
dimensions), a stem convolution, `blocks` residual blocks of (conv -> AdaIN -> ReLU -> conv ->
AdaIN) plus the skip, and a linear head to all `horizon` future steps at once. `adaptive=False`
gives the baseline the paper compares against: the same forecaster with plain instance norm
(learned constant scale and shift) and zero padding, and no encoder.

Departures (see DOC.md): the forecaster is 1-D over time (the paper's are 2-D over space for
fluids), forecasts the horizon in one shot instead of rolling out, and the encoder is trained
jointly with the forecaster; L_inv compares the two halves of the input window.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import DyAdConfig

__all__ = ["DyAd", "AdaIN", "AdaPadConv", "TaskEncoder", "adain"]


def adain(h: torch.Tensor, scale: torch.Tensor, shift: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """AdaIN: h (batch, channels, time) normalised per channel over time, then scale (batch, channels)
    times it plus shift (batch, channels)."""
    mean = h.mean(-1, keepdim=True)
    std = (h.var(-1, keepdim=True, unbiased=False) + eps).sqrt()
    return scale[..., None] * (h - mean) / std + shift[..., None]


class AdaIN(nn.Module):
    """Instance norm whose scale and shift are linear in the task code (or constants without one)."""

    def __init__(self, channels: int, code_dim: int | None):
        super().__init__()
        self.channels = channels
        if code_dim:
            self.style = nn.Linear(code_dim, 2 * channels)
            with torch.no_grad():  # start as the identity style: scale 1, shift 0
                self.style.weight.mul_(0.1)
                self.style.bias.copy_(torch.cat([torch.ones(channels), torch.zeros(channels)]))
        else:
            self.scale, self.shift = nn.Parameter(torch.ones(channels)), nn.Parameter(torch.zeros(channels))

    def forward(self, h: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        if hasattr(self, "style"):
            scale, shift = self.style(z).chunk(2, dim=-1)
        else:
            scale, shift = self.scale.expand(len(h), -1), self.shift.expand(len(h), -1)
        return adain(h, scale, shift)


class AdaPadConv(nn.Module):
    """A 'same' 1-D convolution whose input is padded on both ends by (kernel - 1) / 2 values per
    channel generated from the task code (AdaPad), or zeros without one."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, code_dim: int | None):
        super().__init__()
        self.pad, self.in_channels = (kernel_size - 1) // 2, in_channels
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size)
        self.padding = nn.Linear(code_dim, 2 * self.pad * in_channels) if code_dim and self.pad else None

    def forward(self, h: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        if self.pad == 0:
            return self.conv(h)
        if self.padding is None:
            return self.conv(F.pad(h, (self.pad, self.pad)))
        left, right = self.padding(z).view(len(h), self.in_channels, 2 * self.pad).split(self.pad, dim=-1)
        return self.conv(torch.cat([left, h, right], dim=-1))


class TaskEncoder(nn.Module):
    """g_phi: two convolutions over time, mean pooling over time, a linear map to the code z."""

    def __init__(self, channels: int, hidden: int, code_dim: int, kernel_size: int):
        super().__init__()
        pad = (kernel_size - 1) // 2
        self.convs = nn.Sequential(nn.Conv1d(channels, hidden, kernel_size, padding=pad), nn.ReLU(),
                                   nn.Conv1d(hidden, hidden, kernel_size, padding=pad), nn.ReLU())
        self.out = nn.Linear(hidden, code_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (batch, channels, time) of any length -> z (batch, code_dim)."""
        return self.out(self.convs(x).mean(-1))


class ResidualBlock(nn.Module):
    def __init__(self, hidden: int, kernel_size: int, code_dim: int | None):
        super().__init__()
        self.conv1, self.conv2 = (AdaPadConv(hidden, hidden, kernel_size, code_dim) for _ in range(2))
        self.norm1, self.norm2 = AdaIN(hidden, code_dim), AdaIN(hidden, code_dim)

    def forward(self, h: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        out = F.relu(self.norm1(self.conv1(h, z), z))
        return F.relu(h + self.norm2(self.conv2(out, z), z))


class DyAd(nn.Module):
    """forward(x (batch, lookback, channels)) -> forecast (batch, horizon, channels)."""

    def __init__(self, config: DyAdConfig | None = None):
        super().__init__()
        self.config = config = config or DyAdConfig()
        if config.kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be odd (a 'same' convolution), got {config.kernel_size}")
        if config.param_dim > config.code_dim:
            raise ValueError(f"param_dim ({config.param_dim}) cannot exceed code_dim ({config.code_dim})")
        code = config.code_dim if config.adaptive else None
        self.encoder = TaskEncoder(config.channels, config.encoder_hidden, config.code_dim,
                                   config.kernel_size) if config.adaptive else None
        self.stem = AdaPadConv(config.channels, config.hidden, config.kernel_size, code)
        self.blocks = nn.ModuleList(ResidualBlock(config.hidden, config.kernel_size, code) for _ in range(config.blocks))
        self.head = nn.Linear(config.hidden * config.lookback, config.horizon * config.channels)

    def _check(self, x: torch.Tensor) -> None:
        c = self.config
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"DyAd expects a floating-point tensor (batch, {c.lookback}, {c.channels}), got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 3 or x.shape[1:] != (c.lookback, c.channels):
            raise ValueError(f"DyAd expects x of shape (batch, {c.lookback}, {c.channels}) (lookback steps, state "
                             f"channels), got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The task code z (batch, code_dim) of windows x (batch, time, channels)."""
        if self.encoder is None:
            raise ValueError("this DyAd has no encoder (adaptive=False, the baseline forecaster)")
        return self.encoder(x.transpose(1, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        z = self.encode(x) if self.encoder is not None else None
        return self.forecast(x, z)

    def forecast(self, x: torch.Tensor, z: torch.Tensor | None) -> torch.Tensor:
        """The forecaster f_theta(x; z): (batch, lookback, channels) -> (batch, horizon, channels)."""
        h = F.relu(self.stem(x.transpose(1, 2), z))
        for block in self.blocks:
            h = block(h, z)
        return self.head(h.flatten(1)).view(len(x), self.config.horizon, self.config.channels)

    def losses(self, x: torch.Tensor, y: torch.Tensor, params: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """L_forecast, L_weak and L_inv on a batch, and their weighted sum "loss"."""
        self._check(x)
        c = self.config
        if self.encoder is None:
            forecast = F.mse_loss(self.forecast(x, None), y)
            return {"loss": forecast, "forecast": forecast}
        z = self.encode(x)
        forecast = F.mse_loss(self.forecast(x, z), y)
        out = {"forecast": forecast}
        total = forecast
        if c.param_dim and params is not None and c.weak_weight:
            if params.shape != (len(x), c.param_dim):
                raise ValueError(f"params must be (batch, {c.param_dim}), got {tuple(params.shape)}")
            out["weak"] = F.mse_loss(z[:, :c.param_dim], params)
            total = total + c.weak_weight * out["weak"]
        if c.invariance_weight:
            half = c.lookback // 2
            out["invariance"] = F.mse_loss(self.encode(x[:, :half]), self.encode(x[:, half:]))
            total = total + c.invariance_weight * out["invariance"]
        out["loss"] = total
        return out

    def training_step(self, batch, step) -> dict:
        """One update on (x, y, params) batches of a `dyad/*` task: the weighted loss of `losses`."""
        x, y = batch[0], batch[1]
        out = self.losses(x, y, batch[2] if len(batch) > 2 else None)
        step.backward(out["loss"])
        step.step()
        return {k: v.detach() for k, v in out.items()}
