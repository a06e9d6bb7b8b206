"""The NoProp-DT network: T denoising blocks, a class-embedding matrix, a fixed cosine noise schedule
and a linear classifier, with the inference chain as its forward pass.

Notation (Li, Teh & Pascanu, 2025, Section 2): the label y has embedding u_y = W_Embed[y]; z_0 is
Gaussian noise and block t maps (x, z_{t-1}) to û_t, a guess of u_y. The fixed variational
posterior (the noising process, read from t = T down to 0) has marginals

    q(z_t | y) = N(sqrt(abar_t) u_y, (1 - abar_t) I),      abar_t = prod_{s=t}^{T} alpha_s,

with abar_0 ~ 0 (pure noise) and abar_T ~ 1 (clean), and inference (Eq. 3) samples

    z_t = a_t û_t(z_{t-1}, x) + b_t z_{t-1} + sqrt(c_t) eps_t,
    a_t = sqrt(abar_t)(1 - alpha_{t-1}) / (1 - abar_{t-1}),  b_t = sqrt(alpha_{t-1})(1 - abar_t) / (1 - abar_{t-1}),
    c_t = (1 - abar_t)(1 - alpha_{t-1}) / (1 - abar_{t-1}),

the Gaussian posterior q(z_t | z_{t-1}, y) with u_y replaced by the block's guess; the class
probabilities are softmax(classifier(z_T)). The forward pass returns those logits, so any zoo
evaluation reads the chain's prediction. Training (the `noprop` method) never runs this chain.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zoo.config import Config, Field

__all__ = ["NoPropConfig", "NoPropBlock", "NoPropNet", "cosine_alpha_bar"]

COSINE_OFFSET = 0.008  # the cosine schedule's offset s (Nichol & Dhariwal, 2021)


class NoPropConfig(Config):
    in_chans: int = Field(1, ge=1, le=64, description="image channels")
    image_size: int = Field(28, ge=4, le=1024, description="image height and width")
    num_classes: int = Field(10, ge=2, le=100000, description="classes")
    num_blocks: int = Field(10, ge=1, le=1000, description="T, the number of denoising blocks (the paper's T = 10)")
    embedding_dim: int = Field(10, ge=1, le=100000,
                               description="dimension of the class embeddings u_y (W_Embed, learned; initialised "
                                           "one-hot when it equals num_classes, orthogonal otherwise)")
    hidden: int = Field(256, ge=1, le=100000, description="width of the blocks' fully connected layers")
    conv_width: int = Field(32, ge=1, le=4096, description="channels of the image path's first convolution; the "
                                                           "second and third have 2x and 4x (the paper's 32, 64, 128)")
    dropout: float = Field(0.2, ge=0.0, lt=1.0, description="dropout after the image path's convolutions")
    inference_noise: bool = Field(True, description="sample eps_t in the inference chain (Eq. 3); False: its mean")
    inference_seed: int = Field(0, ge=0, description="seed of z_0 and eps_t at inference, so predictions repeat")


def cosine_alpha_bar(steps: int) -> torch.Tensor:
    """abar_0..abar_T (T = steps) of the cosine schedule, read in NoProp's direction: abar_T ~ 1 at the
    clean label, abar_0 = 0 at pure noise. abar_t = cos^2(pi/2 (s + d)/(1 + d)), s = 1 - t/T."""
    s = 1.0 - torch.arange(steps + 1, dtype=torch.float64) / steps
    values = torch.cos(0.5 * math.pi * (s + COSINE_OFFSET) / (1 + COSINE_OFFSET)).square()
    values[0] = 0.0  # cos(pi/2) in floating point is 6e-17, not 0
    return values


class NoPropBlock(nn.Module):
    """One block û_t(z_{t-1}, x) (the paper's Figure 6, left): a convolutional image path and a fully
    connected path for the noisy embedding, concatenated, then fully connected layers to class logits;
    the output is sum_y softmax(logits)_y u_y, a convex combination of the class embeddings."""

    def __init__(self, config: NoPropConfig):
        super().__init__()
        h, c, w = config.hidden, config.in_chans, config.conv_width
        size = config.image_size
        for _ in range(3):
            size //= 2
        self.image = nn.Sequential(
            nn.Conv2d(c, w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(2 * w, 4 * w, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Dropout(config.dropout), nn.Flatten(),
            nn.Linear(4 * w * size * size, h), nn.BatchNorm1d(h), nn.ReLU())
        self.noisy = nn.Sequential(
            nn.Linear(config.embedding_dim, h), nn.BatchNorm1d(h), nn.ReLU(),
            nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU())
        self.head = nn.Sequential(
            nn.Linear(2 * h, h), nn.BatchNorm1d(h), nn.ReLU(),
            nn.Linear(h, h // 2), nn.BatchNorm1d(h // 2), nn.ReLU(),
            nn.Linear(h // 2, config.num_classes))

    def forward(self, x: torch.Tensor, z: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        logits = self.head(torch.cat([self.image(x), self.noisy(z)], dim=1))
        return logits.softmax(dim=1) @ embedding


class NoPropNet(nn.Module):
    """T NoProp blocks, the class embeddings W_Embed, the linear classifier p(y | z_T) and the
    schedule; forward(x) runs the inference chain and returns the classifier's logits."""

    def __init__(self, config: NoPropConfig | None = None):
        super().__init__()
        self.config = config = config or NoPropConfig()
        if config.image_size < 8:
            raise ValueError(f"noprop-dt's image path pools three times: image_size must be at least 8, "
                             f"got {config.image_size}")
        self.blocks = nn.ModuleList(NoPropBlock(config) for _ in range(config.num_blocks))
        embedding = torch.empty(config.num_classes, config.embedding_dim)
        if config.embedding_dim == config.num_classes:
            nn.init.eye_(embedding)
        else:
            nn.init.orthogonal_(embedding)
        self.embedding = nn.Parameter(embedding)
        self.classifier = nn.Linear(config.embedding_dim, config.num_classes)
        self.register_buffer("alpha_bar", cosine_alpha_bar(config.num_blocks).float(), persistent=False)

    # --- the schedule ---------------------------------------------------------------------------------

    def snr(self) -> torch.Tensor:
        """SNR(t) = abar_t / (1 - abar_t), t = 0..T."""
        return self.alpha_bar / (1 - self.alpha_bar)

    def chain_coefficients(self, t: int) -> tuple[float, float, float]:
        """(a_t, b_t, c_t) of Eq. 3 for block t (1..T)."""
        ab = self.alpha_bar.double()
        alpha_prev = ab[t - 1] / ab[t]  # alpha_{t-1} = abar_{t-1} / abar_t
        denominator = 1 - ab[t - 1]
        a = ab[t].sqrt() * (1 - alpha_prev) / denominator
        b = alpha_prev.sqrt() * (1 - ab[t]) / denominator
        c = (1 - ab[t]) * (1 - alpha_prev) / denominator
        if torch.compiler.is_compiling():
            # tracing cannot turn a tensor into a Python number; 0-dim tensors scale the same way
            return a, b, c
        return float(a), float(b), float(c)

    def noisy_embedding(self, u: torch.Tensor, t: int, noise: torch.Tensor | None = None) -> torch.Tensor:
        """A sample of q(z_t | y) = N(sqrt(abar_t) u_y, (1 - abar_t) I) for embeddings u."""
        noise = torch.randn_like(u) if noise is None else noise
        return self.alpha_bar[t].sqrt() * u + (1 - self.alpha_bar[t]).sqrt() * noise

    # --- inference ------------------------------------------------------------------------------------

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        config = self.config
        if x.dim() != 4 or x.shape[1] != config.in_chans:
            raise ValueError(f"noprop-dt expects images of shape (batch, {config.in_chans}, H, W), got {tuple(x.shape)}")
        generator = torch.Generator(device=x.device).manual_seed(config.inference_seed)
        # one draw of z_0 and of each eps_t, shared by the rows: a row's prediction then depends on that
        # row alone, not on its batch, and the draw's shape stays concrete when the batch is symbolic
        row = (1, config.embedding_dim)
        z = torch.randn(row, generator=generator, device=x.device, dtype=x.dtype).expand(x.shape[0], -1)
        for t, block in enumerate(self.blocks, start=1):
            a, b, c = self.chain_coefficients(t)
            z = a * block(x, z, self.embedding) + b * z
            # c > 0 for every block of the cosine schedule (abar_t < 1); tracing cannot test it
            if config.inference_noise and (torch.compiler.is_compiling() or c > 0):
                noise_scale = c.sqrt() if torch.is_tensor(c) else math.sqrt(c)
                z = z + noise_scale * torch.randn(row, generator=generator, device=x.device, dtype=x.dtype)
        return self.classifier(z)


def block_loss_weight(model: NoPropNet, t: int, eta: float) -> float:
    """(T/2) eta (SNR(t) - SNR(t-1)) / T: block t's share of the denoising term of the NoProp loss, whose
    expectation over t ~ U{1..T} is taken exactly (a sum over the blocks divided by T)."""
    snr = model.snr().double()
    return float(0.5 * eta * (snr[t] - snr[t - 1]))


def kl_to_prior(model: NoPropNet, u: torch.Tensor) -> torch.Tensor:
    """D_KL(q(z_0 | y) || N(0, I)) per sample, averaged: 0.5 sum_d (abar_0 u_d^2 + v - 1 - log v), v = 1 - abar_0."""
    ab0 = model.alpha_bar[0]
    v = 1 - ab0
    return 0.5 * (ab0 * u.square() + v - 1 - torch.log(v)).sum(dim=1).mean()


def classifier_loss(model: NoPropNet, u: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """E_{q(z_T | y)}[-log p(y | z_T)], one sample of z_T per example."""
    z_T = model.noisy_embedding(u, model.config.num_blocks)
    return F.cross_entropy(model.classifier(z_T), y)
