"""Neural Ordinary Differential Equations (Chen, Rubanova, Bettencourt and Duvenaud, 2018,
arXiv:1806.07366), on torchdiffeq (the authors' solver library).

A residual block h_{t+1} = h_t + f(h_t) becomes its continuous limit dh/dt = f(h(t), t, theta)
(paper Eq. 1-2), solved by an adaptive ODE solver from t=0 to T. Gradients come either from
backpropagating through the solver's operations, or from the adjoint method (Sec. 2, Alg. 1),
which solves a second ODE backwards in time and so keeps memory constant in the number of
function evaluations (NFE). The solver's tolerances trade precision for speed (Sec. 3): that is
what the reproduction measures, with `nfe` counted by the dynamics function.

- `ODENet` (Sec. 3, the MNIST model): a convolutional stem (3x3 conv, then `downsample_steps`
  stride-2 4x4 convs, with GroupNorm and ReLU), one ODE block whose dynamics are
  norm-ReLU-conv(t)-norm-ReLU-conv(t)-norm with the time t appended as an input channel, then
  norm-ReLU, global average pooling and a linear classifier. `block="resnet"` is a ResNet baseline:
  `resnet_blocks` discrete residual blocks h + f(h, 0) of the ODE
  block's own dynamics (with its time channel, trailing GroupNorm and conv biases). It departs from
  the paper's baseline, whose ResBlock is norm-ReLU-conv without bias, twice.
- `LatentODE` (Sec. 5, Fig. 6): an RNN reads the observations backwards in time and gives
  q(z_0 | x) = N(mu, sigma); z_0 is sampled (its mean in eval mode), the latent dynamics
  dz/dt = f(z) are solved at every requested time, and a decoder maps z(t) to observations.
  The negative ELBO is `negative_elbo` (the spirals task's loss).

Departures from the paper: the dynamics and stem follow the authors' torchdiffeq example (the
paper gives no layer-level detail). Sized from a task, the stem keeps as many of the paper's two stride-2
convolutions as leave maps of at least 3x3 (one for 8x8 digits: 3x3 maps; two for 28x28 MNIST).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import LatentODEConfig, ODENetConfig

__all__ = ["ODENet", "ConvDynamics", "ODEBlock", "LatentODE", "integrate", "negative_elbo"]


def integrate(func: nn.Module, y0: torch.Tensor, times: torch.Tensor, *, solver: str, rtol: float, atol: float,
              adjoint: bool) -> torch.Tensor:
    """torchdiffeq.odeint(_adjoint) with the config's solver settings: y(t) for t in `times`."""
    from torchdiffeq import odeint, odeint_adjoint

    solve = odeint_adjoint if adjoint else odeint
    return solve(func, y0, times, rtol=rtol, atol=atol, method=solver)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(32, channels), channels)


class _ConcatConv(nn.Module):
    """3x3 convolution of [h, t]: the time enters as a constant extra channel."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels + 1, channels, 3, padding=1)

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        time = torch.ones_like(h[:, :1]) * t
        return self.conv(torch.cat([time, h], dim=1))


class ConvDynamics(nn.Module):
    """f(h, t): norm-ReLU-conv(t)-norm-ReLU-conv(t)-norm. Counts its evaluations in `nfe`."""

    def __init__(self, channels: int):
        super().__init__()
        self.norm1, self.conv1 = _norm(channels), _ConcatConv(channels)
        self.norm2, self.conv2 = _norm(channels), _ConcatConv(channels)
        self.norm3 = _norm(channels)
        self.nfe = 0

    def forward(self, t: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        out = self.conv1(t, torch.relu(self.norm1(h)))
        out = self.conv2(t, torch.relu(self.norm2(out)))
        return self.norm3(out)


class ODEBlock(nn.Module):
    """h(T) = h(0) + int_0^T f(h(t), t) dt by an adaptive solver."""

    def __init__(self, func: nn.Module, config: ODENetConfig):
        super().__init__()
        self.func, self.config = func, config
        self.register_buffer("times", torch.tensor([0.0, config.integration_time]), persistent=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        c = self.config
        return integrate(self.func, h, self.times.to(h.dtype), solver=c.solver, rtol=c.rtol, atol=c.atol,
                         adjoint=c.adjoint)[-1]


class _ResidualBlock(nn.Module):
    """The ResNet baseline's block: h + f(h, 0) with the same dynamics function."""

    def __init__(self, channels: int):
        super().__init__()
        self.func = ConvDynamics(channels)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.func(torch.zeros((), device=h.device, dtype=h.dtype), h)


class ODENet(nn.Module):
    """ODE-Net image classifier. forward(images (B, C, H, W)) -> class logits (B, num_classes)."""

    def __init__(self, config: ODENetConfig | None = None):
        super().__init__()
        self.config = config = config or ODENetConfig()
        ch = config.channels
        stem: list[nn.Module] = [nn.Conv2d(config.in_channels, ch, 3, 1)]
        for _ in range(config.downsample_steps):
            stem += [_norm(ch), nn.ReLU(), nn.Conv2d(ch, ch, 4, 2, 1)]
        self.stem = nn.Sequential(*stem)
        if config.block == "ode":
            self.features = ODEBlock(ConvDynamics(ch), config)
        else:
            self.features = nn.Sequential(*(_ResidualBlock(ch) for _ in range(config.resnet_blocks)))
        self.head = nn.Sequential(_norm(ch), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(ch, config.num_classes))

    @property
    def nfe(self) -> int:
        """Dynamics evaluations since the last `reset_nfe` (forward, and backward too under the adjoint)."""
        if self.config.block != "ode":
            return self.config.resnet_blocks
        return self.features.func.nfe

    def reset_nfe(self) -> None:
        if self.config.block == "ode":
            self.features.func.nfe = 0

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        c = self.config.in_channels
        if images.dim() != 4 or images.shape[1] != c:
            raise ValueError(f"ODENet expects images of shape (batch, {c}, height, width), got {tuple(images.shape)}")
        if not images.is_floating_point():
            raise TypeError(f"ODENet expects floating-point images, got {images.dtype}")
        if min(images.shape[-2:]) < 3:
            raise ValueError(f"ODENet's 3x3 stem needs images of at least 3x3, got {tuple(images.shape[-2:])}")
        return self.head(self.features(self.stem(images)))


class _LatentDynamics(nn.Module):
    """dz/dt = f(z): an ELU MLP (authors' spiral example). Counts evaluations in `nfe`."""

    def __init__(self, latent: int, hidden: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(latent, hidden), nn.ELU(), nn.Linear(hidden, hidden), nn.ELU(),
                                 nn.Linear(hidden, latent))
        self.nfe = 0

    def forward(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        self.nfe += 1
        return self.net(z)


class LatentODE(nn.Module):
    """Latent ODE for irregular trajectories.

    forward(observations (B, T_obs, obs_dim), times (T,) or (B, T)) ->
      {"trajectory": (B, T, obs_dim), "mean": (B, latent), "logvar": (B, latent)}
    The observations are taken at times[:T_obs]; the trajectory covers every time in `times`, so
    times past the observations are extrapolated. Rows of a (B, T) `times` must be equal.
    """

    def __init__(self, config: LatentODEConfig | None = None):
        super().__init__()
        self.config = config = config or LatentODEConfig()
        self.rnn_in = nn.Linear(config.obs_dim + config.rnn_hidden, config.rnn_hidden)
        self.rnn_out = nn.Linear(config.rnn_hidden, 2 * config.latent_dim)
        self.dynamics = _LatentDynamics(config.latent_dim, config.ode_hidden)
        self.decoder = nn.Sequential(nn.Linear(config.latent_dim, config.decoder_hidden), nn.ReLU(),
                                     nn.Linear(config.decoder_hidden, config.obs_dim))

    def _check(self, observations: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        d = self.config.obs_dim
        if observations.dim() != 3 or observations.shape[-1] != d or observations.shape[1] < 1:
            raise ValueError(f"LatentODE expects observations of shape (batch, steps, {d}), got {tuple(observations.shape)}")
        if not observations.is_floating_point() or not times.is_floating_point():
            raise TypeError(f"LatentODE expects floating-point observations and times, got {observations.dtype}, {times.dtype}")
        if times.dim() == 2:
            # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
            if not torch.compiler.is_compiling() and not torch.equal(times, times[:1].expand_as(times)):
                raise ValueError("every row of a (batch, steps) `times` must be the same time grid")
            times = times[0]
        if times.dim() != 1 or len(times) < observations.shape[1]:
            raise ValueError(f"times must have shape (T,) with T >= {observations.shape[1]} observed steps, got {tuple(times.shape)}")
        # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
        if not torch.compiler.is_compiling() and not bool((times.diff() > 0).all()):
            raise ValueError("times must be strictly increasing")
        return times

    def encode(self, observations: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z_0 | x): an Elman RNN over the observations in reverse time order."""
        h = observations.new_zeros(observations.shape[0], self.config.rnn_hidden)
        for step in range(observations.shape[1] - 1, -1, -1):
            h = torch.tanh(self.rnn_in(torch.cat([observations[:, step], h], dim=-1)))
        mean, logvar = self.rnn_out(h).chunk(2, dim=-1)
        return mean, logvar

    def forward(self, observations: torch.Tensor, times: torch.Tensor) -> dict[str, torch.Tensor]:
        times = self._check(observations, times)
        mean, logvar = self.encode(observations)
        z0 = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar) if self.training else mean
        c = self.config
        z = integrate(self.dynamics, z0, times - times[0], solver=c.solver, rtol=c.rtol, atol=c.atol, adjoint=c.adjoint)
        return {"trajectory": self.decoder(z).transpose(0, 1), "mean": mean, "logvar": logvar}



def negative_elbo(output: dict[str, torch.Tensor], observations: torch.Tensor, noise_std: float) -> torch.Tensor:
    """-E_q[log p(x | z)] + KL(q(z_0 | x) || N(0, I)) of a LatentODE output, averaged over the batch.

    The likelihood is Gaussian with std `noise_std` on the observed steps (one sample of z_0)."""
    recon = output["trajectory"][:, : observations.shape[1]]
    var = noise_std**2
    log_lik = -0.5 * (((observations - recon) ** 2) / var + math.log(2 * math.pi * var)).sum((1, 2))
    mean, logvar = output["mean"], output["logvar"]
    kl = 0.5 * (mean**2 + logvar.exp() - 1 - logvar).sum(-1)
    return (kl - log_lik).mean()
