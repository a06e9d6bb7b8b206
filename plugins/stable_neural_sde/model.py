"""Stable neural SDEs for irregular time series (Oh, Lim & Kim, "Stable Neural Stochastic
Differential Equations in Analyzing Irregular Time Series Data", ICLR 2024).

A latent state z(t) in R^h starts from the first observation, z(0) = W x(0) + b, and follows an Ito
SDE with diagonal noise; its value at the end of the window, z(T), is read by a linear classifier.
The paper's three stable classes and the naive neural SDE they are compared with:

    Langevin-type (LSDE):  dz = gamma(z_bar) dt            + sigma(t) dW
    Linear noise (LNSDE):  dz = gamma(t, z_bar) dt         + sigma(t) z dW
    Geometric (GSDE):      dz = gamma(t, z_bar) z dt       + sigma(t) z dW     (dz / z = gamma dt + sigma dW)
    naive neural SDE:      dz = f(t, z_bar) dt             + g(t, z) dW        (both unconstrained networks)

gamma is a tanh network (bounded and Lipschitz, which the paper's existence, stability and
robustness results ask for), sigma(t) a network of time alone (the noise scale does not depend on the
state, except through the linear factor z of LNSDE and GSDE), and the naive SDE's diffusion g a
network of (t, z). The observations enter the drift through the controlled path X(t):

    z_bar(t) = zeta(t, z(t), X(t)) = tanh(W_zeta [t, z(t), X(t)] + b_zeta)

(the Langevin drift leaves t out, as the paper's LSDE drift is autonomous). X(t) interpolates the
observed values of each channel linearly in time, ignoring missing ones, so it is defined at every
solver time. The input's times are scaled to [0, 1]; the SDE runs on [0, horizon] (`horizon`
stretches them back to a time axis of the data's own length, as the paper integrates over the
series' time; the networks read t / horizon), solved by torchsde's Euler-Maruyama scheme with a
fixed step `dt`; the gradient flows through the solver. The horizon matters: with a tanh-bounded
drift, z moves at most about `horizon` per coordinate, so on [0, 1] it barely leaves z(0).

Departures: X(t) is a linear interpolation of the observations where the paper uses natural cubic
splines (torchcde is not a dependency; both are continuous paths through the observations, the
spline also smooth); the drift gamma and zeta are small tanh MLPs of our choosing (the paper tunes
depth and width per data set); one sample path per forward pass, at training and at evaluation.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import StableNeuralSDEConfig

__all__ = ["StableNeuralSDE", "LatentSDE", "fill_missing", "interpolate_path", "path_on_grid"]


def fill_missing(times: torch.Tensor, values: torch.Tensor, observed: torch.Tensor) -> torch.Tensor:
    """Values at every sample time, missing ones linearly interpolated in time between the nearest
    observed neighbours (held constant before the first and after the last; 0 if none is observed).

    times (B, L) non-decreasing; values and observed (B, L, V) -> (B, L, V)."""
    batch, length, channels = values.shape
    index = torch.arange(length, device=values.device).view(1, length, 1).expand(batch, length, channels)
    seen = observed.bool()
    previous = torch.where(seen, index, torch.full_like(index, -1)).cummax(1).values
    after = torch.where(seen, index, torch.full_like(index, length)).flip(1).cummin(1).values.flip(1)
    has_prev, has_next = previous >= 0, after < length
    prev_i, next_i = previous.clamp(min=0), after.clamp(max=length - 1)
    t = times.unsqueeze(-1).expand(batch, length, channels)
    t0, t1 = t.gather(1, prev_i), t.gather(1, next_i)
    v0, v1 = values.gather(1, prev_i), values.gather(1, next_i)
    weight = ((t - t0) / (t1 - t0).clamp(min=1e-12)).clamp(0.0, 1.0)
    both = v0 + weight * (v1 - v0)
    filled = torch.where(has_prev & has_next, both, torch.where(has_prev, v0, torch.where(has_next, v1, 0.0)))
    return torch.where(seen, values, filled)


def interpolate_path(t: torch.Tensor, times: torch.Tensor, filled: torch.Tensor) -> torch.Tensor:
    """X(t): the piecewise linear path through (times, filled) at scalar time t; (B, L), (B, L, V) -> (B, V)."""
    batch, length, _ = filled.shape
    query = t.reshape(1, 1).to(times.dtype).expand(batch, 1).contiguous()
    right = torch.searchsorted(times.contiguous(), query, right=True).clamp(1, length - 1)  # (B, 1)
    left = right - 1
    t0, t1 = times.gather(1, left), times.gather(1, right)
    weight = ((query - t0) / (t1 - t0).clamp(min=1e-12)).clamp(0.0, 1.0).unsqueeze(-1)
    pick = lambda i: filled.gather(1, i.unsqueeze(-1).expand(batch, 1, filled.shape[-1]))  # noqa: E731
    return (pick(left) + weight * (pick(right) - pick(left))).squeeze(1)


def path_on_grid(grid: torch.Tensor, times: torch.Tensor, filled: torch.Tensor) -> torch.Tensor:
    """X at every solver time at once: (G,) grid, (B, L), (B, L, V) -> (G, B, V); one batched search
    instead of one per solver step."""
    batch, length, channels = filled.shape
    query = grid.to(times.dtype).view(1, -1).expand(batch, -1).contiguous()  # (B, G)
    right = torch.searchsorted(times.contiguous(), query, right=True).clamp(1, length - 1)
    left = right - 1
    t0, t1 = times.gather(1, left), times.gather(1, right)
    weight = ((query - t0) / (t1 - t0).clamp(min=1e-12)).clamp(0.0, 1.0).unsqueeze(-1)
    index = lambda i: i.unsqueeze(-1).expand(batch, i.shape[1], channels)  # noqa: E731
    x0, x1 = filled.gather(1, index(left)), filled.gather(1, index(right))
    return (x0 + weight * (x1 - x0)).transpose(0, 1)


def _mlp(inputs: int, width: int, outputs: int, layers: int, final=None) -> nn.Sequential:
    sizes = [inputs] + [width] * layers
    modules: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        modules += [nn.Linear(a, b), nn.Tanh()]
    modules.append(nn.Linear(sizes[-1], outputs))
    if final is not None:
        modules.append(final)
    return nn.Sequential(*modules)


class LatentSDE(nn.Module):
    """The drift f(t, z) and diffusion g(t, z) of one SDE class, in torchsde's interface (Ito, diagonal)."""

    noise_type, sde_type = "diagonal", "ito"

    def __init__(self, config: StableNeuralSDEConfig):
        super().__init__()
        self.kind = config.sde_type
        h, w = config.hidden_dim, config.vector_field_width
        path_channels = (config.input_channels - 1) // 2 if config.use_path else 0
        self.timed = self.kind != "langevin"  # the Langevin drift is autonomous
        self.zeta = nn.Sequential(nn.Linear(int(self.timed) + h + path_channels, w), nn.Tanh())
        self.gamma = _mlp(w + int(self.timed), w, h, config.vector_field_layers - 1, final=nn.Tanh())
        if self.kind == "naive":
            self.diffusion_net = _mlp(1 + h, w, h, 1)  # g(t, z): unconstrained
        else:
            self.sigma = _mlp(1, w, h, 1)  # sigma(t): time only
        self.horizon = config.horizon  # the solver runs on [0, horizon]; the networks read t / horizon
        self.path = None  # (times, filled values) of the batch being solved, set by StableNeuralSDE
        self.grid = None  # (dt, X at k dt for k = 0..G-1): the path precomputed on the solver's grid

    def path_at(self, t: torch.Tensor) -> torch.Tensor:
        """X(t), looked up on the precomputed solver grid when t is a grid time, else interpolated."""
        if self.grid is not None:
            dt, values = self.grid
            k = round(float(t) / dt)
            if 0 <= k < len(values) and abs(float(t) - k * dt) < 1e-6:
                return values[k]
        return interpolate_path(t, *self.path)

    def time_feature(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """t / horizon in [0, 1], one row per sample: the time input of the networks."""
        return (t / self.horizon).reshape(1, 1).expand(len(z), 1).to(z.dtype)

    def z_bar(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        parts = [z]
        if self.path is not None:
            parts.append(self.path_at(t))
        if self.timed:
            parts.insert(0, self.time_feature(t, z))
        return self.zeta(torch.cat(parts, -1))

    def drift_network(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """gamma(z_bar) (Langevin) or gamma(t, z_bar) (the others)."""
        z_bar = self.z_bar(t, z)
        if self.timed:
            z_bar = torch.cat([self.time_feature(t, z), z_bar], -1)
        return self.gamma(z_bar)

    def f(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        gamma = self.drift_network(t, z)
        return gamma * z if self.kind == "geometric" else gamma

    def g(self, t: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        time = self.time_feature(t, z)
        if self.kind == "naive":
            return self.diffusion_net(torch.cat([time, z], -1))
        sigma = self.sigma(time)
        return sigma if self.kind == "langevin" else sigma * z


class StableNeuralSDE(nn.Module):
    """(batch, L, C) irregular observations [time in [0, 1], values, observed flags] -> (batch, classes) logits."""

    zoo_stochastic_eval = "the latent state follows an SDE: each forward solves it along a fresh Brownian path"

    def __init__(self, config: StableNeuralSDEConfig | None = None):
        super().__init__()
        self.config = config = config or StableNeuralSDEConfig()
        self.values = (config.input_channels - 1) // 2
        self.initial = nn.Linear(self.values, config.hidden_dim)
        self.sde = LatentSDE(config)
        self.classifier = nn.Linear(config.hidden_dim, config.num_classes)

    def split(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(times (B, L), values (B, L, V), observed (B, L, V)) from the input channels."""
        return x[..., 0], x[..., 1:1 + self.values], x[..., 1 + self.values:] > 0.5

    def initial_state(self, times, filled) -> torch.Tensor:
        """z(0) from the (filled) first observation."""
        return self.initial(filled[:, 0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        import torchsde

        cfg = self.config
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"stable-neural-sde expects a floating-point tensor (batch, L, {cfg.input_channels}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 3 or x.shape[-1] != cfg.input_channels or x.shape[1] < 2:
            raise ValueError(f"stable-neural-sde expects input of shape (batch, L >= 2, {cfg.input_channels}) "
                             f"[time, values, observed flags], got {tuple(x.shape)}")
        times, values, observed = self.split(x)
        filled = fill_missing(times, values, observed)
        span = torch.tensor([0.0, cfg.horizon], dtype=x.dtype, device=x.device)
        if cfg.use_path:
            times = times * cfg.horizon  # observation times on the solver's axis [0, horizon]
            self.sde.path = (times.contiguous(), filled)
            steps = int(round(cfg.horizon / cfg.dt)) + 1
            grid = torch.arange(steps, dtype=x.dtype, device=x.device) * cfg.dt
            self.sde.grid = (cfg.dt, path_on_grid(grid, times, filled))
        z0 = self.initial_state(times, filled)
        # the Brownian motion's seed comes from torch's generator, so torch.manual_seed fixes the path
        entropy = int(torch.randint(0, 2 ** 31 - 1, ()).item())
        brownian = torchsde.BrownianInterval(t0=0.0, t1=cfg.horizon, size=tuple(z0.shape), dtype=z0.dtype,
                                             device=z0.device, entropy=entropy)
        try:
            z = torchsde.sdeint(self.sde, z0, span, bm=brownian, method="euler", dt=cfg.dt)[-1]
        finally:
            self.sde.path = self.sde.grid = None
        return self.classifier(z)
