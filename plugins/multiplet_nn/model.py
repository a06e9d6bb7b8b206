"""Multiplet neural networks (Nathan E. Frick, 2020, "An Informal Introduction to
Multiplet Neural Networks").

A multiplet neuron replaces the weighted sum of a perceptron by a weighted mean of its (positive)
inputs, with the mean's exponent(s) learned. The two families the paper uses:

- weighted Lehmer mean, exponent p:   L_p(x; w) = sum_i w_i x_i^p / sum_i w_i x_i^(p-1).
  p = 1: weighted arithmetic mean, p = 0: harmonic, p = 1/2 (two inputs, equal weights):
  geometric; p -> +inf / -inf: max / min.
- weighted Gini mean, exponents r != s:  G_rs(x; w) = (sum_i w_i x_i^r / sum_i w_i x_i^s)^(1/(r-s)),
  and for r = s its limit exp(sum_i w_i x_i^s ln x_i / sum_i w_i x_i^s). Lehmer is Gini with
  s = r - 1 and power mean is Gini with s = 0.

With real weights, which may be negative, and a constant input 1 (`bias_input`; 1^p = 1 and
ln 1 = 0), a Gini neuron at r = s = 0 computes exp(sum_i w_i ln x_i / sum_i w_i) = prod_i
x_i^(w_i / sum w): with weights (1, 1, -1) on (x1, x2, 1) that is x1 x2, with (1, -1, 1) it is
x1 / x2, which is how multiplets represent multiplication and division; and a second Lehmer layer
over max- and min-like neurons (p large and small) forms max - min, which is XOR on two inputs.

`MultipletLayer` holds a weight matrix (d_out x d_in (+1)) and one exponent (Lehmer) or two
(Gini) per neuron; `MultipletNet` stacks them (no other nonlinearity: the means are the
nonlinearity) and with mean="relu" builds the ReLU network of the same widths.

Departures: powers are taken as exp(p ln x) with x clamped to at least `floor` (sums shifted by
their largest term, so any exponent is safe), and hidden outputs are clamped the same way so that
the next layer's inputs stay positive; where negative weights bring a Lehmer denominator or a Gini
sum near 0, it is held at `floor` times the magnitude of its terms, and log G is capped to
[-30, 30] (a near-tie r ~ s with unequal sums overflows otherwise). Weights start positive (uniform in [0.1, 1]) so that every
neuron starts as a true mean; exponents start at `init_p` (Lehmer) or `init_r`, `init_s` (Gini).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import MultipletConfig

__all__ = ["lehmer_mean", "gini_mean", "MultipletLayer", "MultipletNet"]

LOG_LIMIT = 30.0  # |log G| is capped here: with tiny r - s the ratio's power overflows float32 otherwise


def _log_inputs(x: torch.Tensor, floor: float) -> torch.Tensor:
    """ln x of inputs clamped to at least `floor`, shaped (batch, 1, d) to broadcast over neurons."""
    return torch.log(x.clamp_min(floor))[:, None, :]


def _log_weighted_sum(weight: torch.Tensor, exponent_log_x: torch.Tensor, floor: float) -> torch.Tensor:
    """ln sum_i w_i exp(a_i) for a_i = exponent ln x_i (batch, out, d), computed shifted by max_i a_i so
    that large or very negative exponents neither overflow nor underflow. A sum that negative weights
    push below `floor` times the sum of |w_i| exp(a_i) is held there (it must stay positive)."""
    shift = exponent_log_x.amax(-1, keepdim=True).detach()
    terms = torch.exp(exponent_log_x - shift)
    total = (weight * terms).sum(-1)
    scale = (weight.abs() * terms).sum(-1)
    return torch.log(torch.maximum(total, floor * scale)) + shift[..., 0]


def lehmer_mean(x: torch.Tensor, weight: torch.Tensor, p: torch.Tensor, floor: float = 1e-3) -> torch.Tensor:
    """L_p = sum_i w_i x_i^p / sum_i w_i x_i^(p-1): x (batch, d), weight (out, d), p (out,) -> (batch, out).

    The numerator is taken over terms scaled like the denominator's, so that the ratio holds for any p;
    a denominator that negative weights bring near 0 is held at +-floor times its terms' magnitude."""
    log_x = _log_inputs(x, floor)
    a = (p[None, :, None] - 1) * log_x
    terms = torch.exp(a - a.amax(-1, keepdim=True).detach())  # x^(p-1), rescaled per sample and neuron
    numerator = (weight * terms * torch.exp(log_x)).sum(-1)
    denominator = (weight * terms).sum(-1)
    bound = floor * (weight.abs() * terms).sum(-1)
    denominator = torch.where(denominator.abs() < bound, torch.where(denominator < 0, -bound, bound), denominator)
    return numerator / denominator


def gini_mean(x: torch.Tensor, weight: torch.Tensor, r: torch.Tensor, s: torch.Tensor, floor: float = 1e-3,
              tie: float = 1e-4) -> torch.Tensor:
    """G_rs = (sum w x^r / sum w x^s)^(1/(r-s)), or its r = s limit when |r - s| < tie; (batch, out)."""
    log_x = _log_inputs(x, floor)
    log_sum_s = _log_weighted_sum(weight, s[None, :, None] * log_x, floor)
    log_sum_r = _log_weighted_sum(weight, r[None, :, None] * log_x, floor)
    gap = r - s
    apart = gap.abs() >= tie
    safe_gap = torch.where(apart, gap, torch.ones_like(gap))
    general = ((log_sum_r - log_sum_s) / safe_gap).clamp(-LOG_LIMIT, LOG_LIMIT)
    # r = s: d/dr ln sum w x^r = sum w x^s ln x / sum w x^s
    a = s[None, :, None] * log_x
    terms = torch.exp(a - a.amax(-1, keepdim=True).detach())
    total = (weight * terms).sum(-1)
    total = torch.maximum(total, floor * (weight.abs() * terms).sum(-1))
    limit = ((weight * terms * log_x).sum(-1) / total).clamp(-LOG_LIMIT, LOG_LIMIT)
    return torch.exp(torch.where(apart, general, limit))


class MultipletLayer(nn.Module):
    """A layer of multiplet neurons: weighted Lehmer or Gini means of the inputs (and a constant 1)."""

    def __init__(self, d_in: int, d_out: int, mean: str = "lehmer", bias_input: bool = True, init_p: float = 1.0,
                 init_r: float = 1.0, init_s: float = 0.0, floor: float = 1e-3):
        super().__init__()
        if mean not in ("lehmer", "gini"):
            raise ValueError(f"mean must be 'lehmer' or 'gini', got {mean!r}")
        self.mean, self.bias_input, self.floor = mean, bias_input, floor
        self.weight = nn.Parameter(torch.empty(d_out, d_in + int(bias_input)).uniform_(0.1, 1.0))
        if mean == "lehmer":
            self.p = nn.Parameter(torch.full((d_out,), float(init_p)))
        else:
            self.r = nn.Parameter(torch.full((d_out,), float(init_r)))
            self.s = nn.Parameter(torch.full((d_out,), float(init_s)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.bias_input:
            x = torch.cat([x, torch.ones_like(x[:, :1])], dim=1)
        if self.mean == "lehmer":
            return lehmer_mean(x, self.weight, self.p, self.floor)
        return gini_mean(x, self.weight, self.r, self.s, self.floor)


class MultipletNet(nn.Module):
    """Multiplet layers stacked (hidden outputs clamped positive), or the ReLU network of the same widths."""

    def __init__(self, config: MultipletConfig | None = None):
        super().__init__()
        self.config = c = config or MultipletConfig()
        sizes = [c.input_dim, *c.hidden_dims, c.output_dim]
        if c.mean == "relu":
            self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        else:
            self.layers = nn.ModuleList(
                MultipletLayer(a, b, c.mean, c.bias_input, c.init_p, c.init_r, c.init_s, c.floor)
                for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, input_dim) positive inputs -> (batch, output_dim)."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"multiplet-nn expects a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 2 or x.shape[1] != self.config.input_dim:
            raise ValueError(f"multiplet-nn expects inputs of shape (batch, {self.config.input_dim}), got "
                             f"{tuple(x.shape)}")
        if self.config.mean == "relu":
            for layer in self.layers[:-1]:
                x = F.relu(layer(x))
            return self.layers[-1](x)
        if not torch.compiler.is_compiling() and not bool((x > 0).all()):
            raise ValueError(f"multiplet neurons take means of positive inputs; got a minimum of {float(x.min()):.4g} "
                             f"(shift or rescale the data into (0, inf))")
        for layer in self.layers[:-1]:
            x = layer(x).clamp_min(self.config.floor)
        return self.layers[-1](x)
