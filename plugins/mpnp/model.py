"""Martingale Posterior Neural Processes (Lee et al., ICLR 2023) and the neural-process baselines
it is compared with (a conditional NP and a latent-variable NP), on one shared backbone.

Backbone (the CNP of Garnelo et al. 2018, as in the paper's 1D experiments): an encoder MLP maps each
context pair (x_i, y_i) to a vector, mean pooling gives r(C), and a decoder MLP maps (x, r) to the
mean and std of a Gaussian predictive, std = m + (1 - m) softplus(.).

MPNP (Sec. 3): instead of a finite-dimensional latent variable, the uncertainty about the function
comes from a martingale posterior: future data are imputed from a predictive distribution, and the
spread of what is fitted on the completed data set is the posterior uncertainty. Here the
predictive for future data is implicit, a generator network: for each of K draws, pseudo contexts
Z_k = {(x~_j, y~_j)}_{j<=m} with x~_j ~ U[x_low, x_high] and y~_j = G(x~_j, r(C), eps_j),
eps_j ~ N(0, I). The model's predictive is the mixture over the draws,

    p(y | x, C) = 1/K sum_k p(y | x, r(C u Z_k)),

and training minimises (Sec. 3.3, as we read it) the sum of three negative log-likelihoods, each per
point:
  L_marg   = -log 1/K sum_k prod_{targets} p(y_i | x_i, r(C u Z_k))    (the mixture on the targets)
  L_amort  = -log prod_{targets} p(y_i | x_i, r(C))                     (the backbone on real contexts)
  L_pseudo = -log 1/K sum_k prod_j p(y~_kj | x~_kj, r(C))               (pseudo data plausible under
                                                                         the predictive given C)

Baselines with the same encoder and decoder: `ConditionalNP` (predictive p(y | x, r(C)), trained on
the target NLL) and `LatentNP` (Garnelo et al. 2018b: a latent path z ~ N(mu(C), sigma(C)) beside r,
trained on the ELBO with posterior q(z | C u T) and prior q(z | C); predictive the mixture over
K draws of z from q(z | C)).

Departures (simplest readings): the generator is an MLP on (x~, r(C), eps) with pseudo inputs
uniform over the task's input range, and the three loss terms are weighted equally.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import MPNPConfig

__all__ = ["MPNP", "ConditionalNP", "LatentNP", "predictive_log_likelihood", "gaussian_log_prob", "mlp"]

CONTEXT, TARGET = 1, 2


def mlp(sizes: list[int]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def gaussian_log_prob(y: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log N(y | mean, std^2) summed over the last (output) axis."""
    return (-0.5 * ((y - mean) / std) ** 2 - std.log() - 0.5 * math.log(2 * math.pi)).sum(-1)


def predictive_log_likelihood(output, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-function log-likelihood per masked point of a mixture predictive: output = (mean, std), each
    (K, B, N, y_dim); returns (B,) = log(1/K sum_k exp(sum_{i in mask} log N(y_i | mean_ki, std_ki))) / |mask|."""
    mean, std = output
    point = gaussian_log_prob(y.unsqueeze(0), mean, std) * mask.unsqueeze(0)  # (K, B, N)
    joint = torch.logsumexp(point.sum(-1), dim=0) - math.log(mean.shape[0])
    return joint / mask.sum(-1).clamp_min(1)


def _check_inputs(config, x, y, role) -> None:
    if not (torch.is_tensor(x) and torch.is_tensor(y) and x.is_floating_point() and y.is_floating_point()):
        raise TypeError("x and y must be floating-point tensors")
    if x.dim() != 3 or x.shape[-1] != config.x_dim or y.shape != (*x.shape[:2], config.y_dim):
        raise ValueError(f"expected x (batch, points, {config.x_dim}) and y (batch, points, {config.y_dim}), got "
                         f"{tuple(x.shape)} and {tuple(y.shape)}")
    if not torch.is_tensor(role) or role.shape != x.shape[:2] or role.is_floating_point():
        raise ValueError(f"role must be an integer tensor of shape {tuple(x.shape[:2])} (1 context, 2 target, 0 "
                         f"padding), got {getattr(role, 'shape', type(role).__name__)}")
    if not torch.compiler.is_compiling() and not bool(((role == CONTEXT).sum(-1) > 0).all()):
        raise ValueError("every function needs at least one context point (role == 1)")


class _Backbone(nn.Module):
    """Encoder (x, y) -> vectors, masked mean pooling, decoder (x, r[, z]) -> (mean, std)."""

    def __init__(self, config: MPNPConfig, extra: int = 0):
        super().__init__()
        c, h = config, config.hidden
        self.config = config
        self.encoder = mlp([c.x_dim + c.y_dim] + [h] * c.encoder_depth)
        self.decoder = mlp([c.x_dim + h + extra] + [h] * (c.decoder_depth - 1) + [2 * c.y_dim])

    def pooled(self, x, y, mask) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of the encodings over masked points (..., h), their count (..., 1))."""
        e = self.encoder(torch.cat([x, y], -1)) * mask.unsqueeze(-1)
        return e.sum(-2), mask.sum(-1, keepdim=True).to(e.dtype)

    def decode(self, x, r, z=None):
        """x (..., N, x_dim), r (..., h) [z (..., d)], leading axes broadcast -> (mean, std) (..., N, y_dim)."""
        lead = torch.broadcast_shapes(x.shape[:-2], r.shape[:-1], *(() if z is None else (z.shape[:-1],)))
        points = x.shape[-2]
        parts = [x.expand(*lead, *x.shape[-2:]), r.unsqueeze(-2).expand(*lead, points, r.shape[-1])]
        if z is not None:
            parts.append(z.unsqueeze(-2).expand(*lead, points, z.shape[-1]))
        mean, raw = self.decoder(torch.cat(parts, -1)).chunk(2, -1)
        m = self.config.min_std
        return mean, m + (1 - m) * F.softplus(raw)


class ConditionalNP(_Backbone):
    """CNP: p(y | x, r(C)); forward returns (mean, std) with a leading mixture axis of size 1."""

    def forward(self, x, y, role):
        _check_inputs(self.config, x, y, role)
        total, count = self.pooled(x, y, role == CONTEXT)
        mean, std = self.decode(x, total / count)
        return mean.unsqueeze(0), std.unsqueeze(0)

    def training_step(self, batch, step) -> dict:
        x, y, role = batch
        loss = -predictive_log_likelihood(self(x, y, role), y, role == TARGET).mean()
        step.backward(loss)
        step.step()
        return {"loss": loss.detach()}


class LatentNP(_Backbone):
    """NP with a deterministic path r(C) and a latent path z ~ N(mu, sigma) of width `hidden`."""

    zoo_stochastic_eval = "the predictive is a mixture over latent draws z ~ q(z | C)"

    def __init__(self, config: MPNPConfig):
        super().__init__(config, extra=config.hidden)
        h = config.hidden
        self.latent_encoder = mlp([config.x_dim + config.y_dim] + [h] * config.encoder_depth)
        self.latent_head = mlp([h, h, 2 * h])

    def latent(self, x, y, mask) -> torch.distributions.Normal:
        e = self.latent_encoder(torch.cat([x, y], -1)) * mask.unsqueeze(-1)
        s = e.sum(-2) / mask.sum(-1, keepdim=True).clamp_min(1)
        mu, raw = self.latent_head(s).chunk(2, -1)
        return torch.distributions.Normal(mu, 0.1 + 0.9 * torch.sigmoid(raw))

    def forward(self, x, y, role, samples: int | None = None):
        _check_inputs(self.config, x, y, role)
        context = role == CONTEXT
        total, count = self.pooled(x, y, context)
        z = self.latent(x, y, context).rsample((samples or self.config.n_samples,))
        return self.decode(x, (total / count).expand(len(z), *total.shape), z)

    def elbo_loss(self, x, y, role) -> torch.Tensor:
        """-(E_q(z|C u T) log p(Y_T | X_T, r, z) - KL(q(z|C u T) || q(z|C))) per target point."""
        context, target = role == CONTEXT, role == TARGET
        total, count = self.pooled(x, y, context)
        posterior, prior = self.latent(x, y, role > 0), self.latent(x, y, context)
        mean, std = self.decode(x, total / count, posterior.rsample())
        recon = (gaussian_log_prob(y, mean, std) * target).sum(-1)
        kl = torch.distributions.kl_divergence(posterior, prior).sum(-1)
        return (-(recon - kl) / target.sum(-1).clamp_min(1)).mean()

    def training_step(self, batch, step) -> dict:
        loss = self.elbo_loss(*batch)
        step.backward(loss)
        step.step()
        return {"loss": loss.detach()}


class MPNP(_Backbone):
    """The backbone plus a generator of pseudo contexts; the predictive is the mixture over K draws."""

    zoo_stochastic_eval = "the predictive is a mixture over K draws of generated pseudo contexts"

    def __init__(self, config: MPNPConfig | None = None):
        config = config or MPNPConfig()
        super().__init__(config)
        h = config.hidden
        self.generator = mlp([config.x_dim + h + config.noise_dim] + [h] * (config.generator_depth - 1)
                             + [config.y_dim])

    def pseudo_contexts(self, r: torch.Tensor, samples: int) -> tuple[torch.Tensor, torch.Tensor]:
        """K sets of m pseudo points given r(C) (B, h): x~ (K, B, m, x_dim), y~ (K, B, m, y_dim)."""
        c = self.config
        shape = (samples, r.shape[0], c.n_pseudo)
        x = torch.rand(*shape, c.x_dim, device=r.device, dtype=r.dtype) * (c.x_high - c.x_low) + c.x_low
        eps = torch.randn(*shape, c.noise_dim, device=r.device, dtype=r.dtype)
        y = self.generator(torch.cat([x, r[None, :, None].expand(*shape, r.shape[-1]), eps], -1))
        return x, y

    def parts(self, x, y, role, samples: int):
        """Everything the objective needs: r(C), the pseudo contexts and the mixture predictive at x."""
        total, count = self.pooled(x, y, role == CONTEXT)
        r_context = total / count
        px, py = self.pseudo_contexts(r_context, samples)
        pseudo_total, pseudo_count = self.pooled(px, py, torch.ones(px.shape[:-1], dtype=torch.bool, device=x.device))
        r_completed = (total + pseudo_total) / (count + pseudo_count)  # r(C u Z_k), (K, B, h)
        return r_context, px, py, self.decode(x, r_completed)

    def forward(self, x, y, role, samples: int | None = None):
        """x (B, N, x_dim), y (B, N, y_dim) (only context values are read), role (B, N) ->
        (mean, std), each (K, B, N, y_dim): the K mixture components of the predictive."""
        _check_inputs(self.config, x, y, role)
        return self.parts(x, y, role, samples or self.config.n_samples)[-1]

    def losses(self, x, y, role) -> dict[str, torch.Tensor]:
        _check_inputs(self.config, x, y, role)
        target = role == TARGET
        r_context, px, py, mixture = self.parts(x, y, role, self.config.n_samples)
        marg = -predictive_log_likelihood(mixture, y, target).mean()
        amort = -predictive_log_likelihood(tuple(t.unsqueeze(0) for t in self.decode(x, r_context)), y, target).mean()
        mean, std = self.decode(px, r_context.expand(len(px), *r_context.shape))  # pseudo data under p(. | C)
        pseudo_joint = gaussian_log_prob(py, mean, std).sum(-1)  # (K, B)
        pseudo = -((torch.logsumexp(pseudo_joint, 0) - math.log(len(px))) / px.shape[2]).mean()
        return {"marg": marg, "amort": amort, "pseudo": pseudo}

    def training_step(self, batch, step) -> dict:
        parts = self.losses(*batch)
        loss = parts["marg"] + parts["amort"] + parts["pseudo"]
        step.backward(loss)
        step.step()
        return {"loss": loss.detach(), **{k: v.detach() for k, v in parts.items()}}
