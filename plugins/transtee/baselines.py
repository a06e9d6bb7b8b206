"""The MLP-based treatment-effect estimators TransTEE is compared with (Zhang et al., 2022, Sec. 5):

- `TARNet` (Shalit, Johansson & Sontag, 2017) for discrete treatments: a shared MLP representation
  Phi(x) and one MLP outcome head per arm; mu_hat(x, t) = head_t(Phi(x)).
- `VCNet` (Nie, Ye, Liu & Nicolae, 2021) for a continuous dosage in [0, 1]: a shared MLP
  representation Phi(x), a density head g(t | Phi(x)) over equal bins of [0, 1] (trained by its
  NLL with weight alpha = 0.5), and a varying-coefficient outcome head whose weights are functions
  of t, W(t) = sum_b phi_b(t) W_b, on the truncated power basis of degree 2 with knots 1/3 and 2/3
  (phi = 1, t, t^2, (t - 1/3)_+^2, (t - 2/3)_+^2), so the dose-response stays continuous in t.

Both follow the papers' structure at the widths the reproduction gives them; VCNet's targeted
regularisation is left out, as TransTEE's is (both arms are compared without it).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .model import check_inputs, effect_training_step, mlp

__all__ = ["TARNet", "VCNet", "truncated_power_basis"]

KNOTS = (1 / 3, 2 / 3)


def truncated_power_basis(t: torch.Tensor, degree: int = 2, knots=KNOTS) -> torch.Tensor:
    """(B,) -> (B, degree + 1 + len(knots)): 1, t, .., t^degree, (t - k)_+^degree for each knot."""
    powers = [t ** p for p in range(degree + 1)]
    return torch.stack(powers + [(t - k).clamp_min(0) ** degree for k in knots], -1)


class VaryingCoefficientLinear(nn.Module):
    """y = x W(t) + b(t), with W(t) = sum_b phi_b(t) W_b and b(t) likewise (VCNet's dynamic layer)."""

    def __init__(self, inputs: int, outputs: int, basis: int):
        super().__init__()
        bound = 1 / math.sqrt(inputs)
        self.weight = nn.Parameter(torch.empty(basis, inputs, outputs).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(basis, outputs).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bi,kio,bk->bo", x, self.weight, phi) + phi @ self.bias


class TARNet(nn.Module):
    """forward(x (B, d), t (B,) arm ids) -> (mu_hat (B,), None)."""

    def __init__(self, covariates: int, hidden: int = 64, num_treatments: int = 2):
        super().__init__()
        self.covariates, self.num_treatments = covariates, num_treatments
        self.representation = nn.Sequential(nn.Linear(covariates, hidden), nn.ELU(), nn.Linear(hidden, hidden),
                                            nn.ELU())
        self.heads = nn.ModuleList(mlp(hidden, hidden, 1, nn.ELU) for _ in range(num_treatments))

    def forward(self, x: torch.Tensor, t: torch.Tensor):
        check_inputs("TARNet", x, t, self.covariates, False, self.num_treatments)
        phi = self.representation(x)
        every = torch.cat([head(phi) for head in self.heads], -1)  # (B, arms)
        return every.gather(-1, t[:, None]).squeeze(-1), None

    def training_step(self, batch, step) -> dict:
        return effect_training_step(self, batch, step, 0.0, continuous=False)


class VCNet(nn.Module):
    """forward(x (B, d), t (B,) dosages in [0, 1]) -> (mu_hat (B,), density logits (B, bins))."""

    def __init__(self, covariates: int, hidden: int = 64, density_bins: int = 10, alpha: float = 0.5):
        super().__init__()
        self.covariates, self.alpha = covariates, alpha
        self.representation = nn.Sequential(nn.Linear(covariates, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                            nn.ReLU())
        self.density = nn.Linear(hidden, density_bins)
        basis = 3 + len(KNOTS)
        self.layer1 = VaryingCoefficientLinear(hidden, hidden, basis)
        self.layer2 = VaryingCoefficientLinear(hidden, 1, basis)

    def forward(self, x: torch.Tensor, t: torch.Tensor):
        check_inputs("VCNet", x, t, self.covariates, True, 0)
        phi_x = self.representation(x)
        basis = truncated_power_basis(t)
        outcome = self.layer2(torch.relu(self.layer1(phi_x, basis)), basis).squeeze(-1)
        return outcome, self.density(phi_x)

    def training_step(self, batch, step) -> dict:
        return effect_training_step(self, batch, step, self.alpha, continuous=True)
