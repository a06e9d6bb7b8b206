"""Functional neural networks (Heinrichs, Heim & Weber, 2023, "Functional Neural Networks: Shift
invariant models for functional data with applications to EEG classification").

A functional layer maps input functions x_1..x_I on a time domain to output functions h_1..h_O,

    h_o(t) = sigma( b_o(t) + sum_i integral w_oi(s, t) x_i(s) ds ),

with weight functions w_oi expanded in a finite basis, w = sum_l beta_l phi_l, so a layer has
I x O x L parameters whatever the resolution of the data, and its outputs stay smooth when phi is.
Two forms (Sec. 3):

- dense (the functional MLP): w_oi(s, t) = sum_{l,k} beta_oilk phi_l(s) phi_k(t) and a functional bias
  b_o(t) = sum_k alpha_ok phi_k(t), phi the Legendre polynomials on [0, 1];
- convolution (shift invariant): w_oi(s, t) = w_oi(s - t) supported on s - t in [0, delta],
  w_oi(u) = sum_l beta_oil P_l(2 u / delta - 1), and a constant bias b_o, so that shifting the input
  in time shifts the output: h_o(t) = sigma(b_o + sum_i integral_0^delta w_oi(u) x_i(t + u) du), defined
  for t in [0, T - delta] (each layer shortens the domain by delta).

On the observation grid the integrals are trapezoidal sums; the convolutional layer is then a
discrete cross-correlation whose kernel is the sampled weight function times the quadrature
weights. The network stacks hidden functional layers with the activation and a last functional
layer with one output function per class; a class's logit is that function's mean over time
(its integral divided by the domain length), which keeps the convolutional network shift invariant.

Departures (simplest readings where the paper leaves a choice): Legendre polynomials as the basis of
the weight functions; valid (unpadded) convolutions; the logits as the time means of the last
layer's functions; weights initialised N(0, 1 / (delta^2 I L)) (dense: N(0, 1 / (I L^2))).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import FunctionalNNConfig

__all__ = ["FunctionalNN", "FunctionalConvLayer", "FunctionalDenseLayer", "legendre_basis", "trapezoid"]

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "elu": F.elu}


def legendre_basis(count: int, points: int) -> torch.Tensor:
    """P_0..P_{count-1} on `points` equally spaced points of [-1, 1]: (count, points)."""
    x = np.linspace(-1.0, 1.0, points)
    return torch.tensor(np.stack([np.polynomial.legendre.legval(x, np.eye(count)[l]) for l in range(count)]),
                        dtype=torch.float32)


def trapezoid(points: int, step: float) -> torch.Tensor:
    """Trapezoidal-rule weights of `points` equally spaced points `step` apart."""
    weights = torch.full((points,), step)
    weights[0] = weights[-1] = step / 2
    return weights


class FunctionalConvLayer(nn.Module):
    """Shift-invariant functional layer: sum_i integral_0^delta w_oi(u) x_i(t + u) du + b_o.

    The weight functions are w_oi(u) = sum_l beta_oil P_l(2 u / delta - 1); the parameter stored is
    theta = beta * step (the coefficients in units of the grid step), so that the discrete kernel, the
    sampled w times the trapezoid weights, is theta P (1 or 1/2 at the ends): the authors' code
    learns these step-free coefficients (initialised N(0, 0.05^2)), which keeps Adam's steps in
    proportion to the weights at any grid resolution."""

    def __init__(self, in_channels: int, out_channels: int, n_basis: int, kernel_points: int, step: float,
                 init_std: float = 0.05):
        super().__init__()
        self.step = step
        self.theta = nn.Parameter(torch.randn(out_channels, in_channels, n_basis) * init_std)
        self.bias = nn.Parameter(torch.zeros(out_channels))
        # P_l(2 u / delta - 1) at the kernel's grid points times the trapezoid weight / step
        self.register_buffer("basis", legendre_basis(n_basis, kernel_points) * trapezoid(kernel_points, 1.0),
                             persistent=False)

    @property
    def beta(self) -> torch.Tensor:
        """The basis coefficients of the weight functions w_oi: (out, in, L)."""
        return self.theta / self.step

    def weight_functions(self) -> torch.Tensor:
        """w_oi(u_m) on the kernel grid (without quadrature weights): (out, in, M)."""
        return torch.einsum("oil,lm->oim", self.beta, legendre_basis(self.theta.shape[-1], self.basis.shape[-1]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, in, J) -> (batch, out, J - M + 1)."""
        kernel = torch.einsum("oil,lm->oim", self.theta, self.basis)
        return F.conv1d(x, kernel, self.bias)


class FunctionalDenseLayer(nn.Module):
    """Functional MLP layer: b_o(t) + sum_i integral w_oi(s, t) x_i(s) ds with w and b in a Legendre basis."""

    def __init__(self, in_channels: int, out_channels: int, n_basis: int, points: int):
        super().__init__()
        scale = (in_channels * n_basis ** 2) ** -0.5
        self.beta = nn.Parameter(torch.randn(out_channels, in_channels, n_basis, n_basis) * scale)
        self.alpha = nn.Parameter(torch.zeros(out_channels, n_basis))
        phi = legendre_basis(n_basis, points)
        self.register_buffer("phi", phi, persistent=False)
        self.register_buffer("projector", phi * trapezoid(points, 1.0 / (points - 1)), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, in, J) -> (batch, out, J)."""
        moments = x @ self.projector.T  # (batch, in, L): integral phi_l(s) x_i(s) ds
        coefficients = torch.einsum("bil,oilk->bok", moments, self.beta) + self.alpha
        return coefficients @ self.phi  # sum_k (...)_k phi_k(t)


class FunctionalNN(nn.Module):
    """Hidden functional layers with an activation, then one output function per class, averaged over time."""

    def __init__(self, config: FunctionalNNConfig | None = None):
        super().__init__()
        self.config = config = config or FunctionalNNConfig()
        widths = [config.in_channels, *config.channels, config.num_classes]
        step = 1.0 / (config.grid_points - 1)
        if config.layer == "convolution":
            self.layers = nn.ModuleList(FunctionalConvLayer(a, b, config.n_basis, config.kernel_points(), step)
                                        for a, b in zip(widths[:-1], widths[1:]))
        else:
            self.layers = nn.ModuleList(FunctionalDenseLayer(a, b, config.n_basis, config.grid_points)
                                        for a, b in zip(widths[:-1], widths[1:]))
        self.register_buffer("time_mean", trapezoid(config.output_points(), 1.0) / (config.output_points() - 1)
                             if config.output_points() > 1 else torch.ones(1), persistent=False)
        self.activation = ACTIVATIONS[config.activation]

    def functions(self, x: torch.Tensor) -> torch.Tensor:
        """The last layer's output functions on its grid: (batch, num_classes, output_points)."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"FunctionalNN expects a floating-point tensor of curves, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        c = self.config
        if x.dim() == 2 and c.in_channels == 1:
            x = x[:, None]
        if x.dim() != 3 or x.shape[1:] != (c.in_channels, c.grid_points):
            raise ValueError(f"FunctionalNN expects curves of shape (batch, {c.in_channels}, {c.grid_points})"
                             f"{f' or (batch, {c.grid_points})' if c.in_channels == 1 else ''}, got {tuple(x.shape)}")
        if c.normalize:  # per sample and channel, over time
            x = (x - x.mean(-1, keepdim=True)) / (x.var(-1, keepdim=True, unbiased=False) + 1e-10).sqrt()
        for layer in self.layers[:-1]:
            x = self.activation(layer(x))
        return self.layers[-1](x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Curves (batch, in_channels, J) (or (batch, J) with one channel) -> (batch, num_classes) logits."""
        return self.functions(x) @ self.time_mean
