"""The reproduction's baselines for CAMEL, of the kind the paper compares against: a single model fitted to
all training environments with no task weights, and ANIL (Raghu et al., 2020), MAML restricted to
the last layer: a shared body h(x; theta) and a linear head whose meta-learned initialisation is
adapted to each environment by a few gradient steps on its support points, the outer loss being
the query error after those steps (gradients through the inner steps, second order)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .model import ACTIVATIONS, feature_mlp

__all__ = ["SingleModel", "ANIL"]


class SingleModel(nn.Module):
    """One MLP x -> y for every environment (no task-specific parameters)."""

    def __init__(self, input_dim: int, output_dim: int, hidden_dim: int, hidden_layers: int, activation: str = "tanh"):
        super().__init__()
        self.net = feature_mlp(input_dim, output_dim, hidden_dim, hidden_layers, activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class ANIL(nn.Module):
    """Body MLP (hidden_layers of hidden_dim) and a linear head (hidden_dim -> output_dim) whose
    initialisation (head_weight, head_bias) is meta-learned and adapted per environment."""

    def __init__(self, input_dim: int, output_dim: int, hidden_dim: int, hidden_layers: int, activation: str = "tanh",
                 inner_steps: int = 5, inner_lr: float = 0.1):
        super().__init__()
        if inner_steps < 1 or not inner_lr > 0:
            raise ValueError(f"ANIL needs inner_steps >= 1 and inner_lr > 0, got {inner_steps}, {inner_lr}")
        sizes = [input_dim] + [hidden_dim] * hidden_layers
        layers: list[nn.Module] = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), ACTIVATIONS[activation]()]
        self.body = nn.Sequential(*layers)
        head = nn.Linear(hidden_dim, output_dim)
        self.head_weight, self.head_bias = nn.Parameter(head.weight.detach()), nn.Parameter(head.bias.detach())
        self.inner_steps, self.inner_lr = inner_steps, inner_lr

    def adapt(self, x: torch.Tensor, y: torch.Tensor, create_graph: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Heads after `inner_steps` gradient steps on the support MSE from the learned init, for a
        batch of environments at once: x (envs, n, d_x), y (envs, n, d_y) -> weight (envs, d_y, H),
        bias (envs, 1, d_y). Each environment's head only enters its own loss, so the gradient of the
        summed losses is every head's own gradient."""
        if x.dim() != 3 or y.dim() != 3 or x.shape[:2] != y.shape[:2]:
            raise ValueError(f"ANIL.adapt expects x (envs, n, d_x) and y (envs, n, d_y), got {tuple(x.shape)}, "
                             f"{tuple(y.shape)}")
        h = self.body(x)
        envs = len(x)
        weight = self.head_weight.expand(envs, -1, -1)
        bias = self.head_bias.view(1, 1, -1).expand(envs, -1, -1)
        if not create_graph:  # adaptation alone: fresh leaves, no graph back to the initialisation
            h, weight, bias = h.detach(), weight.detach().requires_grad_(), bias.detach().requires_grad_()
        for _ in range(self.inner_steps):
            with torch.enable_grad():
                loss = ((h @ weight.transpose(1, 2) + bias - y) ** 2).mean((1, 2)).sum()
                gw, gb = torch.autograd.grad(loss, (weight, bias), create_graph=create_graph)
            weight, bias = weight - self.inner_lr * gw, bias - self.inner_lr * gb
        return weight, bias

    def predict(self, x: torch.Tensor, head: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """x (envs, n, d_x) with each environment's head -> (envs, n, d_y)."""
        weight, bias = head
        return self.body(x) @ weight.transpose(1, 2) + bias

    def meta_loss(self, support: tuple[torch.Tensor, torch.Tensor], query: tuple[torch.Tensor, torch.Tensor]):
        """Query MSE after adapting on the support sets (the outer objective), averaged over environments."""
        head = self.adapt(*support, create_graph=True)
        return F.mse_loss(self.predict(query[0], head), query[1])
