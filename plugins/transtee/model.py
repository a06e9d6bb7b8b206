"""TransTEE (Zhang, Zhang, Lipton, Li & Xing, 2022, "Exploring Transformer Backbones for
Heterogeneous Treatment Effect Estimation"): a transformer treatment-effect estimator.

The model estimates the potential outcome mu(x, t) of a unit with covariates x under treatment t
(a discrete arm or a continuous dosage), from observational data where t depends on x:

1. Covariate tokens (Sec. 4): each covariate x_i becomes a token e_i = x_i w_i + b_i in R^h.
2. Self-attention over the covariate tokens (a transformer encoder) models the interactions
   between covariates: M = Encoder(e_1..e_d).
3. The treatment is embedded as a token too (an embedding table for a discrete arm, a linear map
   of the dosage for a continuous one, followed by an MLP), and attends to the covariate
   tokens by cross-attention (a transformer decoder with the treatment token as the
   query and M as the memory): which covariates matter depends on the treatment, and the
   adjustment for confounding is done by attention.
4. A two-layer MLP head maps the decoded treatment token to mu_hat(x, t).
5. Propensity modelling (Sec. 4, "compatible with propensity score modelling"): a head on the mean
   covariate representation predicts the treatment given x (a softmax over arms, or a density over
   `density_bins` equal bins of [0, 1] for a dosage, as VCNet's density estimator), and its
   negative log-likelihood is added to the outcome MSE with weight `propensity_weight`. It makes
   the representation keep the information that drives treatment assignment (confounding).

Departures: covariate tokens use one weight and bias vector per covariate (an FT-Transformer-style
tokenizer), so a token carries which covariate it holds; the paper's targeted-regularisation
variants (TR, PTR) are not implemented; the propensity head reads the encoder output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import TransTEEConfig

__all__ = ["TransTEE", "mlp", "propensity_nll", "check_inputs", "effect_training_step"]


def mlp(inputs: int, hidden: int, outputs: int, activation=nn.ReLU) -> nn.Sequential:
    return nn.Sequential(nn.Linear(inputs, hidden), activation(), nn.Linear(hidden, outputs))


def check_inputs(model_name: str, x, t, covariates: int, continuous: bool, num_treatments: int) -> None:
    """Clear errors for covariates (B, d) and treatments (B,) of the wrong kind or shape."""
    if not torch.is_tensor(x) or not x.is_floating_point() or x.dim() != 2 or x.shape[1] != covariates:
        raise ValueError(f"{model_name} expects covariates x of shape (batch, {covariates}) as floats, got "
                         f"{tuple(getattr(x, 'shape', ()))} {getattr(x, 'dtype', type(x).__name__)}")
    if not torch.is_tensor(t) or t.shape != x.shape[:1]:
        raise ValueError(f"{model_name} expects one treatment per unit, shape ({x.shape[0]},), got "
                         f"{tuple(getattr(t, 'shape', ()))}")
    if continuous and not t.is_floating_point():
        raise TypeError(f"{model_name} with a continuous treatment expects float dosages in [0, 1], got {t.dtype}")
    if not continuous:
        if t.is_floating_point():
            raise TypeError(f"{model_name} with a discrete treatment expects integer arm ids, got {t.dtype}")
        checkable = not torch.compiler.is_compiling() and not t.is_meta  # an export cannot read values
        if checkable and t.numel() and (int(t.min()) < 0 or int(t.max()) >= num_treatments):
            raise ValueError(f"treatment ids must lie in [0, {num_treatments}), got [{int(t.min())}, {int(t.max())}]")


def propensity_nll(logits: torch.Tensor, t: torch.Tensor, continuous: bool) -> torch.Tensor:
    """Mean -log p(t | x): categorical over arms, or a piecewise-constant density over equal bins
    of [0, 1] (density in a bin = its probability x the number of bins)."""
    if not continuous:
        return F.cross_entropy(logits, t)
    bins = logits.shape[-1]
    index = (t * bins).long().clamp(0, bins - 1)
    log_density = logits.log_softmax(-1).gather(-1, index[:, None]).squeeze(-1) + torch.log(torch.tensor(float(bins)))
    return -log_density.mean()


def effect_training_step(model, batch, step, propensity_weight: float, continuous: bool) -> dict:
    """Outcome MSE on the factual outcomes plus the weighted propensity NLL (when the model has a head)."""
    x, t, y = batch[0], batch[1], batch[2]
    outcome, propensity = model(x, t)
    mse = F.mse_loss(outcome, y.reshape(outcome.shape))
    loss = mse
    if propensity is not None and propensity_weight > 0:
        loss = mse + propensity_weight * propensity_nll(propensity, t, continuous)
    step.backward(loss)
    step.step()
    return {"loss": float(loss.detach()), "mse": float(mse.detach())}


class TransTEE(nn.Module):
    """forward(x (B, covariates), t (B,)) -> (mu_hat (B,), propensity logits (B, arms or bins))."""

    def __init__(self, config: TransTEEConfig | None = None):
        super().__init__()
        self.config = c = config or TransTEEConfig()
        h = c.emsize
        self.covariate_weight = nn.Parameter(torch.randn(c.covariates, h) * 0.1)
        self.covariate_bias = nn.Parameter(torch.randn(c.covariates, h) * 0.1)
        self.encoder = nn.TransformerEncoder(
            nn.TransformerEncoderLayer(h, c.nhead, h, c.dropout, batch_first=True), c.nlayers,
            enable_nested_tensor=False)
        if c.treatment == "discrete":
            self.treatment_embedding = nn.Embedding(c.num_treatments, h)
        else:
            self.treatment_embedding = nn.Linear(1, h)
        self.treatment_mlp = mlp(h, h, h)
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(h, c.nhead, h, c.dropout, batch_first=True),
                                             c.nlayers)
        self.head = mlp(h, h, 1)
        arms = c.num_treatments if c.treatment == "discrete" else c.density_bins
        self.propensity_head = mlp(h, h, arms)

    @property
    def continuous(self) -> bool:
        return self.config.treatment == "continuous"

    def covariate_tokens(self, x: torch.Tensor) -> torch.Tensor:
        """(B, d) -> (B, d, h): token i is x_i w_i + b_i."""
        return x.unsqueeze(-1) * self.covariate_weight + self.covariate_bias

    def treatment_token(self, t: torch.Tensor) -> torch.Tensor:
        embedded = self.treatment_embedding(t.unsqueeze(-1).to(self.covariate_weight.dtype)) if self.continuous \
            else self.treatment_embedding(t)
        return self.treatment_mlp(embedded).unsqueeze(1)  # (B, 1, h)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        c = self.config
        check_inputs("TransTEE", x, t, c.covariates, self.continuous, c.num_treatments)
        memory = self.encoder(self.covariate_tokens(x))
        decoded = self.decoder(self.treatment_token(t), memory)
        outcome = self.head(decoded[:, 0]).squeeze(-1)
        return outcome, self.propensity_head(memory.mean(1))

    def training_step(self, batch, step) -> dict:
        """Batches (x, t, y_factual): outcome MSE + propensity_weight * propensity NLL."""
        return effect_training_step(self, batch, step, self.config.propensity_weight, self.continuous)

    @torch.no_grad()
    def potential_outcomes(self, x: torch.Tensor, treatments: torch.Tensor) -> torch.Tensor:
        """mu_hat(x_i, t_k) for every unit and every treatment in `treatments`, (B, K)."""
        return torch.stack([self(x, treatment.expand(len(x)))[0] for treatment in treatments], 1)
