"""AdaFNN (Yao, Mueller & Wang, "Deep Learning for Functional Data Analysis with Adaptive Basis
Layers", ICML 2021): a network on functional inputs whose first layer, the Basis Layer, learns the
basis in which the curves are reduced.

A curve X is observed on a grid t_1..t_J of [0, 1]. The Basis Layer has K hidden units, each a basis
function beta_k(t) implemented as a micro neural network of the scalar t (Sec. 3). Each unit's output
is the score

    c_k = <X, beta_k> = integral X(t) beta_k(t) dt,

computed by numerical quadrature on the observation grid (the trapezoidal rule, as in the authors'
code), with beta_k normalised to unit L2 norm so that the scores measure projections, not the basis'
scale. The scores go into a fully connected network (the head) that predicts the target. The whole
model is trained end to end; the loss adds two regularisers on the basis (Sec. 3.2):

    lambda_1 sum_{k != l} |<beta_k, beta_l>|   (orthogonality: bases that carry different information)
    lambda_2 sum_k integral |beta_k(t)| dt      (L1: bases concentrated on few regions of t).

Departures (simplest readings where the paper leaves a choice): the micro networks and the head use
ReLU; the orthogonality penalty uses absolute inner products of the normalised bases.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import AdaFNNConfig

__all__ = ["AdaFNN", "BasisLayer", "MicroNetworks", "mlp"]


def mlp(widths: list[int], dropout: float = 0.0) -> nn.Sequential:
    """Linear layers between consecutive `widths`, ReLU (and dropout) after each but the last."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.ReLU())
            if dropout:
                layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MicroNetworks(nn.Module):
    """K independent micro networks t -> beta_k(t) (ReLU MLPs 1 -> hidden -> 1), evaluated together:
    layer i holds the K networks' weights as one (K, in, out) tensor, so one batched matmul runs them all."""

    def __init__(self, count: int, hidden: list[int]):
        super().__init__()
        widths = [1, *hidden, 1]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for a, b in zip(widths[:-1], widths[1:]):
            bound = 1.0 / a ** 0.5  # nn.Linear's default uniform init, per network
            self.weights.append(nn.Parameter(torch.empty(count, a, b).uniform_(-bound, bound)))
            self.biases.append(nn.Parameter(torch.empty(count, 1, b).uniform_(-bound, bound)))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        """(J,) times -> (K, J) values beta_k(t_j)."""
        h = t.reshape(1, -1, 1).expand(len(self.weights[0]), -1, -1)
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases)):
            h = torch.baddbmm(b, h, w)
            if i < last:
                h = torch.relu(h)
        return h[..., 0]


class BasisLayer(nn.Module):
    """K micro networks t -> beta_k(t) and the quadrature c_k = sum_j w_j X(t_j) beta_k(t_j)."""

    def __init__(self, grid_points: int, n_bases: int, hidden: list[int]):
        super().__init__()
        grid = torch.linspace(0.0, 1.0, grid_points)
        gaps = grid.diff()
        weights = torch.zeros(grid_points)
        weights[:-1] += gaps / 2  # trapezoidal rule: each interval's ends share its width
        weights[1:] += gaps / 2
        self.register_buffer("grid", grid, persistent=False)
        self.register_buffer("weights", weights, persistent=False)
        self.micro = MicroNetworks(n_bases, hidden)

    def inner(self, f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """<f, g> by the trapezoidal rule, f (..., J) and g (K, J) -> (..., K)."""
        return (f * self.weights) @ g.transpose(0, 1)

    def raw_bases(self) -> torch.Tensor:
        """The micro networks' outputs on the grid, before normalisation: (K, J)."""
        return self.micro(self.grid)

    def bases(self) -> torch.Tensor:
        """beta_k(t_j) normalised to unit L2 norm on [0, 1]: (K, J)."""
        raw = self.raw_bases()
        norms = ((raw ** 2) @ self.weights).clamp_min(1e-12).sqrt()
        return raw / norms[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, J) curve values -> (batch, K) scores c_k = <X, beta_k>."""
        return self.inner(x, self.bases())

    def penalties(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum_{k != l} |<beta_k, beta_l>|, sum_k integral |beta_k|) of the normalised bases."""
        beta = self.bases()
        gram = self.inner(beta, beta)
        off_diagonal = gram - torch.diag_embed(torch.diagonal(gram))
        return off_diagonal.abs().sum(), (beta.abs() @ self.weights).sum()


class AdaFNN(nn.Module):
    """Basis Layer (K learned bases) followed by an MLP head on the K scores."""

    def __init__(self, config: AdaFNNConfig | None = None):
        super().__init__()
        self.config = config = config or AdaFNNConfig()
        self.basis = BasisLayer(config.grid_points, config.n_bases, config.basis_hidden)
        self.head = mlp([config.n_bases, *config.head_hidden, config.output_dim], config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, J) curves on the grid -> (batch, output_dim) predictions."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"AdaFNN expects a floating-point tensor of curves, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 2 or x.shape[-1] != self.config.grid_points:
            raise ValueError(f"AdaFNN expects curves of shape (batch, {self.config.grid_points}) (values on the "
                             f"{self.config.grid_points}-point grid of [0, 1]), got {tuple(x.shape)}")
        return self.head(self.basis(x))

    def regularization(self) -> torch.Tensor:
        """lambda_1 (orthogonality) + lambda_2 (L1) penalties of the learned bases."""
        ortho, l1 = self.basis.penalties()
        return self.config.ortho_penalty * ortho + self.config.l1_penalty * l1

    def training_step(self, batch, step) -> dict:
        """The task's loss plus the basis regularisers."""
        output = self(batch[0])
        fit = step.task.loss(output, batch)
        loss = fit + self.regularization()
        step.backward(loss)
        step.step()
        return {"loss": loss.detach(), "fit": fit.detach()}
