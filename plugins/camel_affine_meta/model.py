"""CAMEL (Blanke & Lelarge, ICLR 2024, "Interpretable Meta-Learning of Physical Systems"): a
meta-learning model affine in its task-specific weights.

The model for environment t is (the paper's affine model, as we read it)

    F(x; theta, w_t) = sum_{k=1..r} w_{t,k} v_k(x; theta) = V(x; theta) w_t,

with shared features V(x; theta) in R^{d_y x r} (here one MLP with r * d_y outputs) and a weight
vector w_t in R^r per environment. Training is multi-task learning: theta and the weights
W = (w_1..w_T) of the T training environments are fitted jointly on the summed squared error
(the `forward(x, env)` of this module, W a parameter table). Adaptation to a new environment
needs no gradient step: the loss is quadratic in w, so with n support points stacked into
Phi in R^{n d_y x r} and y in R^{n d_y},

    w_hat = argmin_w ||Phi w - y||^2 + lambda ||w||^2 = (Phi^T Phi + lambda I)^-1 Phi^T y   (`adapt`).

Identification (the paper's identifiability result): when the system is itself linear in its physical parameters,
y = sum_k beta_k psi_k(x), and the features span the psi_k, the learned weights are an affine image
of the parameters, w_t = P beta_t + c, so a linear map fitted on the training environments recovers
beta from the weights of any new environment (`fit_parameter_map`, `parameter_r2`).

Departures: none in the model; the training schedule (Adam, full batch per environment) is the
reproduction's choice.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import CamelConfig

__all__ = ["CAMEL", "feature_mlp", "ridge_solve", "fit_parameter_map", "apply_parameter_map", "parameter_r2"]

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU}


def feature_mlp(input_dim: int, output_dim: int, hidden_dim: int, hidden_layers: int, activation: str) -> nn.Sequential:
    """An MLP input_dim -> hidden_dim (x hidden_layers) -> output_dim with the named activation."""
    sizes = [input_dim] + [hidden_dim] * hidden_layers
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
    layers.append(nn.Linear(sizes[-1], output_dim))
    return nn.Sequential(*layers)


def ridge_solve(design: torch.Tensor, target: torch.Tensor, ridge: float) -> torch.Tensor:
    """w = (Phi^T Phi + ridge I)^-1 Phi^T y for Phi (n, r) and y (n,): the closed-form adaptation.

    Solved in float64 (Phi^T Phi is squared-conditioned); differentiable in Phi and y."""
    if design.dim() != 2 or target.dim() != 1 or len(design) != len(target):
        raise ValueError(f"ridge_solve expects Phi (n, r) and y (n,), got {tuple(design.shape)} and {tuple(target.shape)}")
    phi = design.double()
    gram = phi.T @ phi + ridge * torch.eye(phi.shape[1], dtype=phi.dtype, device=phi.device)
    return torch.linalg.solve(gram, phi.T @ target.double()).to(design.dtype)


class CAMEL(nn.Module):
    """F(x; theta, w_t) = V(x; theta) w_t with a learned weight table W (environments, r)."""

    def __init__(self, config: CamelConfig | None = None):
        super().__init__()
        self.config = config = config or CamelConfig()
        self.features_net = feature_mlp(config.input_dim, config.rank * config.output_dim, config.hidden_dim,
                                        config.hidden_layers, config.activation)
        # w_t drawn small and random: equal rows would give every environment the same gradient at the start
        self.task_weights = nn.Parameter(torch.randn(config.environments, config.rank) / config.rank ** 0.5)

    def _check_x(self, x: torch.Tensor) -> None:
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"CAMEL expects x as a floating-point tensor (batch, {self.config.input_dim}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 2 or x.shape[1] != self.config.input_dim:
            raise ValueError(f"CAMEL expects x of shape (batch, {self.config.input_dim}), got {tuple(x.shape)}")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """V(x; theta): (batch, input_dim) -> (batch, output_dim, r)."""
        self._check_x(x)
        return self.features_net(x).view(len(x), self.config.output_dim, self.config.rank)

    def predict(self, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """V(x) w for one weight vector w (r,) or one per row (batch, r) -> (batch, output_dim)."""
        if weights.shape[-1] != self.config.rank or weights.dim() not in (1, 2):
            raise ValueError(f"weights must be (r,) or (batch, r) with r = {self.config.rank}, got {tuple(weights.shape)}")
        v = self.features(x)
        return v @ weights if weights.dim() == 1 else (v * weights[:, None, :]).sum(-1)

    def forward(self, x: torch.Tensor, env: torch.Tensor) -> torch.Tensor:
        """Multi-task prediction: row i uses its training environment's weights w_{env_i}."""
        if not torch.is_tensor(env) or env.dtype not in (torch.int64, torch.int32) or env.shape != x.shape[:1]:
            raise ValueError(f"env must be an integer tensor (batch,) of training-environment indices, got "
                             f"{getattr(env, 'dtype', type(env).__name__)} {tuple(getattr(env, 'shape', ()))}")
        tracing = torch.compiler.is_compiling()  # an export cannot read values; the eager call checks them
        if not tracing and len(env) and (int(env.min()) < 0 or int(env.max()) >= self.config.environments):
            raise ValueError(f"env indices must lie in [0, {self.config.environments}), got "
                             f"[{int(env.min())}, {int(env.max())}]")
        return self.predict(x, self.task_weights[env])

    def adapt(self, x: torch.Tensor, y: torch.Tensor, ridge: float | None = None) -> torch.Tensor:
        """Closed-form weights (r,) of a new environment from its support points x (n, d_x), y (n, d_y)."""
        y = y.reshape(len(y), -1)
        if y.shape != (len(x), self.config.output_dim):
            raise ValueError(f"adapt expects y of shape ({len(x)}, {self.config.output_dim}), got {tuple(y.shape)}")
        design = self.features(x).reshape(-1, self.config.rank)  # rows (sample, output) stacked: (n d_y, r)
        return ridge_solve(design, y.reshape(-1), self.config.ridge if ridge is None else ridge)


def fit_parameter_map(weights: torch.Tensor, parameters: torch.Tensor) -> torch.Tensor:
    """Least-squares affine map M ((r + 1), p) with parameters ~ [w, 1] M, fitted on training environments."""
    design = torch.cat([weights.double(), torch.ones(len(weights), 1, dtype=torch.float64)], dim=1)
    return torch.linalg.lstsq(design, parameters.double()).solution


def apply_parameter_map(weights: torch.Tensor, mapping: torch.Tensor) -> torch.Tensor:
    """Physical parameters estimated from weights (n, r) through the map of `fit_parameter_map`."""
    return torch.cat([weights.double(), torch.ones(len(weights), 1, dtype=torch.float64)], dim=1) @ mapping


def parameter_r2(estimate: torch.Tensor, truth: torch.Tensor) -> torch.Tensor:
    """Coefficient of determination R^2 per parameter (columns): 1 - SS_res / SS_tot."""
    truth = truth.double()
    residual = ((estimate.double() - truth) ** 2).sum(0)
    total = ((truth - truth.mean(0)) ** 2).sum(0)
    return 1.0 - residual / total
