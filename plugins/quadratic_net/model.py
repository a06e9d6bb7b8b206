"""Quadratic networks (Fan, Li, Wang, Lai & Wang, 2021, "On Expressivity and
Trainability of Quadratic Networks").

The quadratic neuron (Sec. 2, Eq. 1) replaces the inner product of a conventional neuron by a
quadratic function of the input,

    q(x) = (w_r . x + b_r)(w_g . x + b_g) + w_b . (x * x) + c,     y = sigma(q(x)),

three weight vectors instead of one, and a layer of them is `QuadraticLinear`. Its product term lets
a single neuron compute x1 * x2 (and a network of them represent polynomials efficiently: the
expressivity half of the paper); the price is harder training, since the output can grow as the
square of the weights (the trainability half).

ReLinear (Sec. 4) trains them in two steps that begin from a conventional network:
- initialisation: w_r, b_r as a linear layer's; w_g = 0, b_g = 1, w_b = 0, c = 0, so that
  q(x) = w_r . x + b_r and the network starts out as the conventional network;
- training: the quadratic terms (w_g, b_g, w_b, c) move with a smaller learning rate than the
  linear part (w_r, b_r), so they grow from the linear solution instead of taking over early.
`QuadraticNet.configure_optimizers` gives zoo.train these two parameter groups (Adam, the quadratic
group at `quadratic_lr_scale` x lr). With init="random" and quadratic_lr_scale=1 the same network
is trained without ReLinear (the paper's failing baseline); neuron="conventional" builds the
conventional network of the comparison.

Departures: fully connected networks only; ReLU between layers and none at the output; Adam for
both groups with one scale factor between their learning rates (the paper sets the quadratic terms'
rates separately per experiment; the simplest reading is one smaller rate).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import QuadraticNetConfig

__all__ = ["QuadraticLinear", "QuadraticNet"]


class QuadraticLinear(nn.Module):
    """A layer of quadratic neurons: (W_r x + b_r) * (W_g x + b_g) + W_b (x^2) + c."""

    def __init__(self, d_in: int, d_out: int, init: str = "relinear"):
        super().__init__()
        self.r = nn.Linear(d_in, d_out)  # the linear part, initialised as nn.Linear
        self.w_g = nn.Parameter(torch.empty(d_out, d_in))
        self.b_g = nn.Parameter(torch.empty(d_out))
        self.w_b = nn.Parameter(torch.empty(d_out, d_in))
        self.c = nn.Parameter(torch.empty(d_out))
        self.reset_quadratic(init)

    @torch.no_grad()
    def reset_quadratic(self, init: str) -> None:
        """ReLinear's start (w_g = 0, b_g = 1, w_b = 0, c = 0) or every term drawn like nn.Linear's."""
        if init == "relinear":
            self.w_g.zero_(), self.b_g.fill_(1.0), self.w_b.zero_(), self.c.zero_()
        elif init == "random":
            bound = 1 / math.sqrt(self.w_g.shape[1])
            for p in (self.w_g, self.b_g, self.w_b, self.c):
                p.uniform_(-bound, bound)
        else:
            raise ValueError(f"init must be 'relinear' or 'random', got {init!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.r(x) * F.linear(x, self.w_g, self.b_g) + F.linear(x * x, self.w_b, self.c)

    def quadratic_parameters(self) -> list[nn.Parameter]:
        return [self.w_g, self.b_g, self.w_b, self.c]


class QuadraticNet(nn.Module):
    """A fully connected network of quadratic (or conventional) neurons with ReLU between layers."""

    def __init__(self, config: QuadraticNetConfig | None = None):
        super().__init__()
        self.config = c = config or QuadraticNetConfig()
        sizes = [c.input_dim, *c.hidden_dims, c.output_dim]
        make = (lambda a, b: QuadraticLinear(a, b, c.init)) if c.neuron == "quadratic" else nn.Linear
        self.layers = nn.ModuleList(make(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, ...) inputs with input_dim features in all -> (batch, output_dim)."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"quadratic-net expects a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
        x = x.reshape(len(x), -1) if x.dim() > 1 else x
        if x.dim() != 2 or x.shape[1] != self.config.input_dim:
            raise ValueError(f"quadratic-net expects inputs of shape (batch, {self.config.input_dim}) (or any shape "
                             f"with {self.config.input_dim} features per sample), got {tuple(x.shape)}")
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)

    def parameter_groups(self, lr: float) -> list[dict]:
        """ReLinear's groups: the linear part at lr, the quadratic terms at quadratic_lr_scale x lr."""
        quadratic = [p for layer in self.layers if isinstance(layer, QuadraticLinear)
                     for p in layer.quadratic_parameters()]
        ids = {id(p) for p in quadratic}
        linear = [p for p in self.parameters() if id(p) not in ids]
        groups = [{"params": linear, "lr": lr}]
        if quadratic:
            groups.append({"params": quadratic, "lr": lr * self.config.quadratic_lr_scale})
        return groups

    def configure_optimizers(self, lr: float) -> torch.optim.Optimizer:
        """Adam over ReLinear's two groups (zoo.train calls this instead of building its own optimizer)."""
        return torch.optim.Adam(self.parameter_groups(lr))
