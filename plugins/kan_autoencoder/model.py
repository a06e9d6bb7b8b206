"""Kolmogorov-Arnold Network Autoencoders (Moradi, Panahi, Bollt & Lai, 2024; arXiv:2410.02077).

An autoencoder whose encoder and decoder are built around KAN layers (learnable B-spline edge
activations, the KAN paper's Eq. 2.10), trained to minimise the reconstruction error between x
and x_hat = g(f(x)). As the paper describes it, the encoder is a KAN layer followed by a ReLU and a
dense layer down to the latent code; the decoder mirrors it (KAN layer, ReLU, dense layer back to
the input size):

    z     = W_e ReLU(Phi_e(x)) + b_e              Phi_e: KAN layer, input_dim -> hidden
    x_hat = act(W_d ReLU(Phi_d(z)) + b_d)         Phi_d: KAN layer, latent_dim -> hidden

The KAN layers are the zoo's `KANLayer` (`zoo_plugins.kan`), with the KAN paper's initialisation.

Departures, and why:
- The paper's hidden widths and spline settings for MNIST/SVHN/CIFAR-10 are not reused: the zoo's
  data set is 8x8 digits, so the defaults are sized for 64 inputs (hidden 32, latent 8, G=5, k=3);
  every size is a config value.
- A sigmoid on the reconstruction (config `output_activation`) keeps it in the data's [0, 1]
  range; choose "none" for unbounded data.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from zoo_plugins.kan.model import KANLayer

from .config import KANAutoencoderConfig

__all__ = ["KANAutoencoder"]


class KANAutoencoder(nn.Module):
    """x of shape (batch, *input_shape) -> reconstruction of the same shape."""

    def __init__(self, config: KANAutoencoderConfig | None = None):
        super().__init__()
        self.config = config = config or KANAutoencoderConfig()
        self.input_dim = math.prod(config.input_shape)
        kan = dict(grid_size=config.grid, k=config.k, grid_range=tuple(config.grid_range))
        self.encoder = nn.Sequential(KANLayer(self.input_dim, config.hidden, **kan), nn.ReLU(),
                                     nn.Linear(config.hidden, config.latent_dim))
        self.decoder = nn.Sequential(KANLayer(config.latent_dim, config.hidden, **kan), nn.ReLU(),
                                     nn.Linear(config.hidden, self.input_dim))

    def _check(self, x: torch.Tensor) -> None:
        shape = tuple(self.config.input_shape)
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"kan-autoencoder expects a floating-point tensor of shape (batch, {', '.join(map(str, shape))}), "
                            f"got {x.dtype if torch.is_tensor(x) else type(x).__name__}")
        if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"kan-autoencoder expects input of shape (batch, {', '.join(map(str, shape))}), got {tuple(x.shape)}")

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Latent codes (batch, latent_dim) of inputs (batch, *input_shape)."""
        self._check(x)
        return self.encoder(x.reshape(x.shape[0], -1))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Reconstructions (batch, *input_shape) of codes (batch, latent_dim)."""
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"decode expects codes of shape (batch, {self.config.latent_dim}), got {tuple(z.shape)}")
        out = self.decoder(z)
        if self.config.output_activation == "sigmoid":
            out = torch.sigmoid(out)
        return out.reshape(z.shape[0], *self.config.input_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(x))
