"""Conditional Generative Adversarial Nets (Mirza & Osindero, 2014, arXiv:1411.1784).

A GAN (arXiv:1406.2661) in which both players see the extra information y (here a class label,
one-hot): the game becomes (Eq. 2)

    min_G max_D E_x[log D(x|y)] + E_z[log(1 - D(G(z|y)|y))].

Architecture of the paper's MNIST model (Sec. 4.1): the generator maps z (uniform in the unit
hypercube) and y through ReLU layers of 200 and 1000 units, concatenates them into a ReLU layer of
1200 units and a sigmoid output; the discriminator maps x to a maxout layer of 240 units x 5
pieces and y to one of 50 units x 5 pieces, joins them in a maxout layer of 240 units x 4 pieces
and a sigmoid output. Dropout (0.5) is applied in both networks. Training alternates
discriminator and generator steps as in the GAN paper's Algorithm 1, with the generator maximising
log D(G(z|y)|y) (the GAN paper's non-saturating loss, Sec. 3).

Departures from the paper:
- D returns logits and the losses use the log-sigmoid form: the same objective, without overflow.
- The paper decays the learning rate exponentially and raises momentum from 0.5 to 0.7; here
  schedules belong to the trainer, and `optimizer="adam"` exists so small models train quickly.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo_plugins.gan.model import (Maxout, check_labels, check_samples, discriminator_loss, generator_loss,
                                   uniform_noise)

from .config import CGANConfig

__all__ = ["CGAN"]


class ConditionalGenerator(nn.Module):
    def __init__(self, config: CGANConfig, data_dim: int):
        super().__init__()
        c = config
        self.noise = nn.Sequential(nn.Linear(c.latent_dim, c.generator_noise_hidden), nn.ReLU(), nn.Dropout(c.dropout))
        self.label = nn.Sequential(nn.Linear(c.num_classes, c.generator_label_hidden), nn.ReLU(),
                                   nn.Dropout(c.dropout))
        self.joint = nn.Sequential(nn.Linear(c.generator_noise_hidden + c.generator_label_hidden,
                                             c.generator_joint_hidden), nn.ReLU(), nn.Dropout(c.dropout),
                                   nn.Linear(c.generator_joint_hidden, data_dim))

    def forward(self, z: torch.Tensor, y_onehot: torch.Tensor) -> torch.Tensor:
        return self.joint(torch.cat([self.noise(z), self.label(y_onehot)], dim=-1))


class ConditionalDiscriminator(nn.Module):
    def __init__(self, config: CGANConfig, data_dim: int):
        super().__init__()
        c = config
        self.data = nn.Sequential(Maxout(data_dim, c.discriminator_data_hidden, c.data_pieces), nn.Dropout(c.dropout))
        self.label = nn.Sequential(Maxout(c.num_classes, c.discriminator_label_hidden, c.label_pieces),
                                   nn.Dropout(c.dropout))
        self.joint = nn.Sequential(Maxout(c.discriminator_data_hidden + c.discriminator_label_hidden,
                                          c.discriminator_joint_hidden, c.joint_pieces), nn.Dropout(c.dropout),
                                   nn.Linear(c.discriminator_joint_hidden, 1))

    def forward(self, x: torch.Tensor, y_onehot: torch.Tensor) -> torch.Tensor:
        """Logit of D(x|y), shape (batch,)."""
        return self.joint(torch.cat([self.data(x), self.label(y_onehot)], dim=-1)).squeeze(-1)


class CGAN(nn.Module):
    """Conditional generator and discriminator; `forward(z, labels)` is the generator."""

    def __init__(self, config: CGANConfig | None = None):
        super().__init__()
        self.config = config = config or CGANConfig()
        self.data_shape = tuple(config.data_shape)
        data_dim = math.prod(self.data_shape)
        self.generator = ConditionalGenerator(config, data_dim)
        self.discriminator = ConditionalDiscriminator(config, data_dim)
        self.register_buffer("discriminator_steps", torch.zeros((), dtype=torch.long))
        self._last_generator_loss = float("nan")

    def one_hot(self, labels) -> torch.Tensor:
        return F.one_hot(check_labels(labels, self.config.num_classes, "CGAN"), self.config.num_classes).float()

    def noise(self, n: int) -> torch.Tensor:
        return uniform_noise(n, self.config.latent_dim, 0.0, 1.0, self.discriminator_steps.device)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """G(z|y): noise (batch, latent_dim) and labels (batch,) -> samples (batch, *data_shape)."""
        if not torch.is_tensor(z) or not z.is_floating_point():
            raise TypeError(f"CGAN expects floating-point noise of shape (batch, {self.config.latent_dim}), "
                            f"got {getattr(z, 'dtype', type(z).__name__)}")
        if z.dim() != 2 or z.shape[1] != self.config.latent_dim:
            raise ValueError(f"CGAN expects noise of shape (batch, {self.config.latent_dim}), got {tuple(z.shape)}")
        y = self.one_hot(labels)
        if y.shape[0] != z.shape[0]:
            raise ValueError(f"CGAN got {z.shape[0]} noise vectors but {y.shape[0]} labels; expected one label each")
        out = self.generator(z, y)
        if self.config.output_activation == "sigmoid":
            out = torch.sigmoid(out)
        return out.reshape(z.shape[0], *self.data_shape)

    @torch.no_grad()
    def sample(self, labels: torch.Tensor) -> torch.Tensor:
        """One sample of p_g(x|y) per requested label."""
        return self(self.noise(labels.shape[0]), labels.to(self.discriminator_steps.device))

    @torch.no_grad()
    def discriminate(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """D(x|y): probability that each (sample, label) pair came from the data, shape (batch,)."""
        flat = check_samples(x, self.data_shape, "CGAN discriminator")
        return torch.sigmoid(self.discriminator(flat, self.one_hot(labels)))

    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        def make(params):
            if self.config.optimizer == "adam":
                return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
            return torch.optim.SGD(params, lr=lr, momentum=self.config.momentum)

        return {"discriminator": make(self.discriminator.parameters()), "generator": make(self.generator.parameters())}

    def training_step(self, batch, step) -> dict[str, float]:
        """One discriminator step on this labelled minibatch; a generator step every k calls, for
        labels drawn from the minibatch's (so the label distribution is the data's)."""
        if not isinstance(batch, (list, tuple)) or len(batch) < 2:
            raise ValueError("CGAN trains on (samples, labels) batches")
        real = check_samples(batch[0], self.data_shape, "CGAN")
        y = self.one_hot(batch[1])
        n = real.shape[0]
        fake = self.generator(self.noise(n), y)
        if self.config.output_activation == "sigmoid":
            fake = torch.sigmoid(fake)
        real_logits, fake_logits = self.discriminator(real, y), self.discriminator(fake.detach(), y)
        d_loss = discriminator_loss(real_logits, fake_logits)
        step.zero_grad("discriminator")
        step.backward(d_loss)
        step.step("discriminator")
        self.discriminator_steps += 1
        if int(self.discriminator_steps) % self.config.k_steps == 0:
            labels = batch[1][torch.randperm(n, device=batch[1].device)]
            g_logits = self.discriminator(self(self.noise(n), labels).reshape(n, -1), self.one_hot(labels))
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
        """One generated sample per label of the batch, for the task's sample metrics."""
        return self.sample(batch[1])
