"""Generative Adversarial Nets (Goodfellow et al., 2014, arXiv:1406.2661).

A generator G(z) maps noise z ~ p_z to data space; a discriminator D(x) gives the probability that
x came from the data rather than from G. They play the minimax game of Eq. 1,

    min_G max_D V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],

trained by Algorithm 1: k steps of ascent on V for D, then one step for G. Early in training
log(1 - D(G(z))) saturates, so the paper (Sec. 3) recommends training G to maximise log D(G(z))
instead (`generator_loss="non-saturating"`, the default); `"minimax"` keeps Eq. 1 as written. At
the optimum p_g = p_data and D(x) = 1/2 everywhere (Proposition 1, Theorem 1).

Architecture as in Sec. 5: an MLP generator with rectifier hidden layers and noise fed only to its
bottom layer, a sigmoid output for [0, 1] data; a discriminator of maxout layers trained with
dropout. The training step follows Algorithm 1: each call does one discriminator step on the
batch it gets (a fresh minibatch each time), and every k-th call also one generator step.

Departures from the paper:
- D returns logits and the losses use the log-sigmoid form (binary cross-entropy with logits):
  the same objective, computed without overflow when D saturates.
- p_z is uniform on [-1, 1]^latent_dim: the paper does not fix the prior in its text.
- Widths, depth and `optimizer="adam"` are config values, so a 2D toy model trains in minutes on
  a CPU; the defaults are the paper's MNIST sizes with momentum SGD.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import GANConfig

__all__ = ["GAN", "Maxout", "mlp_generator", "maxout_discriminator", "discriminator_loss", "generator_loss",
           "check_samples", "uniform_noise"]


class Maxout(nn.Module):
    """Maxout units (Goodfellow et al., 2013): the max over `pieces` affine maps of the input."""

    def __init__(self, in_features: int, out_features: int, pieces: int):
        super().__init__()
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).unflatten(-1, (self.out_features, self.pieces)).amax(-1)


def mlp_generator(in_features: int, hidden: list[int], out_features: int) -> nn.Sequential:
    """Linear + ReLU hidden layers, then a linear output layer (activation applied by the caller)."""
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(in_features, width), nn.ReLU()]
        in_features = width
    layers.append(nn.Linear(in_features, out_features))
    return nn.Sequential(*layers)


def maxout_discriminator(in_features: int, hidden: list[int], pieces: int, dropout: float,
                         input_dropout: float) -> nn.Sequential:
    """Dropout on the input, maxout hidden layers with dropout, one logit out."""
    layers: list[nn.Module] = [nn.Dropout(input_dropout)]
    for width in hidden:
        layers += [Maxout(in_features, width, pieces), nn.Dropout(dropout)]
        in_features = width
    layers.append(nn.Linear(in_features, 1))
    return nn.Sequential(*layers)


def uniform_noise(n: int, dim: int, low: float, high: float, device=None) -> torch.Tensor:
    return torch.rand(n, dim, device=device) * (high - low) + low


def discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """-V(D, G) on a minibatch: -(mean log D(x) + mean log(1 - D(G(z)))). Equals log 4 at D = 1/2."""
    return (F.binary_cross_entropy_with_logits(real_logits, torch.ones_like(real_logits))
            + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits)))


def generator_loss(fake_logits: torch.Tensor, kind: str) -> torch.Tensor:
    """non-saturating: -mean log D(G(z)) (Sec. 3); minimax: mean log(1 - D(G(z))) (Eq. 1)."""
    if kind == "non-saturating":
        return F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
    return -F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))


def check_samples(x, data_shape: tuple[int, ...], who: str) -> torch.Tensor:
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError(f"{who} expects a floating-point tensor of shape (batch, {', '.join(map(str, data_shape))}), "
                        f"got {getattr(x, 'dtype', type(x).__name__)}")
    flat = math.prod(data_shape)
    if x.dim() < 2 or (tuple(x.shape[1:]) != data_shape and (x.dim() != 2 or x.shape[1] != flat)):
        raise ValueError(f"{who} expects samples of shape (batch, {', '.join(map(str, data_shape))}) "
                         f"or (batch, {flat}), got {tuple(x.shape)}")
    return x.reshape(x.shape[0], flat)


def check_labels(labels, num_classes: int, who: str) -> torch.Tensor:
    """Integer class labels of shape (batch,) in [0, num_classes), as int64; anything else is refused."""
    if not torch.is_tensor(labels) or labels.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8):
        raise TypeError(f"{who} expects integer class labels of shape (batch,) in [0, {num_classes}), "
                        f"got {getattr(labels, 'dtype', type(labels).__name__)}")
    if labels.dim() != 1:
        raise ValueError(f"{who} expects labels of shape (batch,), got {tuple(labels.shape)}")
    # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
    if (not torch.compiler.is_compiling()
            and labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= num_classes)):
        raise ValueError(f"{who} labels must lie in [0, {num_classes}), got values from {int(labels.min())} "
                         f"to {int(labels.max())}")
    return labels.long()


class GAN(nn.Module):
    """Generator and discriminator of the paper; `forward(z)` is the generator."""

    def __init__(self, config: GANConfig | None = None):
        super().__init__()
        self.config = config = config or GANConfig()
        self.data_shape = tuple(config.data_shape)
        data_dim = math.prod(self.data_shape)
        self.generator = mlp_generator(config.latent_dim, config.generator_hidden, data_dim)
        self.discriminator = maxout_discriminator(data_dim, config.discriminator_hidden, config.maxout_pieces,
                                                  config.dropout, config.input_dropout)
        # Algorithm 1's position in its k-step cycle; a buffer so a resumed run continues the cycle
        self.register_buffer("discriminator_steps", torch.zeros((), dtype=torch.long))
        self._last_generator_loss = float("nan")

    def noise(self, n: int) -> torch.Tensor:
        return uniform_noise(n, self.config.latent_dim, -1.0, 1.0, self.discriminator_steps.device)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """G(z): noise (batch, latent_dim) -> samples (batch, *data_shape)."""
        if not torch.is_tensor(z) or not z.is_floating_point():
            raise TypeError(f"GAN expects floating-point noise of shape (batch, {self.config.latent_dim}), "
                            f"got {getattr(z, 'dtype', type(z).__name__)}")
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"GAN expects noise of shape (batch, {self.config.latent_dim}), got {tuple(z.shape)}")
        out = self.generator(z)
        if self.config.output_activation == "sigmoid":
            out = torch.sigmoid(out)
        return out.reshape(z.shape[0], *self.data_shape)

    @torch.no_grad()
    def sample(self, n: int) -> torch.Tensor:
        """n samples of p_g."""
        return self(self.noise(n))

    def discriminator_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.discriminator(check_samples(x, self.data_shape, "GAN discriminator")).squeeze(-1)

    @torch.no_grad()
    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """D(x): probability that each sample came from the data, shape (batch,)."""
        return torch.sigmoid(self.discriminator_logits(x))

    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        def make(params):
            if self.config.optimizer == "adam":
                return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
            return torch.optim.SGD(params, lr=lr, momentum=self.config.momentum)

        return {"discriminator": make(self.discriminator.parameters()), "generator": make(self.generator.parameters())}

    def training_step(self, batch, step) -> dict[str, float]:
        """Algorithm 1: one discriminator step on this minibatch; a generator step every k calls."""
        real = check_samples(batch[0] if isinstance(batch, (list, tuple)) else batch, self.data_shape, "GAN")
        n = real.shape[0]
        fake = self(self.noise(n)).reshape(n, -1).detach()
        real_logits, fake_logits = self.discriminator(real).squeeze(-1), self.discriminator(fake).squeeze(-1)
        d_loss = discriminator_loss(real_logits, fake_logits)
        step.zero_grad("discriminator")
        step.backward(d_loss)
        step.step("discriminator")
        self.discriminator_steps += 1
        if int(self.discriminator_steps) % self.config.k_steps == 0:
            g_logits = self.discriminator(self(self.noise(n)).reshape(n, -1)).squeeze(-1)
            g_loss = generator_loss(g_logits, self.config.generator_loss)
            step.zero_grad("generator")
            step.backward(g_loss)
            step.step("generator")
            self._last_generator_loss = float(g_loss.detach())
        return {
            "loss": float(d_loss.detach()),
            "generator_loss": self._last_generator_loss,
            "d_real": float(torch.sigmoid(real_logits.detach()).mean()),
            "d_fake": float(torch.sigmoid(fake_logits.detach()).mean()),
        }

    @torch.no_grad()
    def evaluation_step(self, batch, task) -> torch.Tensor:
        """As many generated samples as the batch holds, for the task's sample metrics."""
        real = batch[0] if isinstance(batch, (list, tuple)) else batch
        return self.sample(real.shape[0])
