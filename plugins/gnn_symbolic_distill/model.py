"""NBodyGN: the graph network of Cranmer et al. (2020) for n-body accelerations (fully connected graph).

    m_ij = phi_e([x_i, x_j])             edge model, message from sender j to receiver i (dim 100)
    a_i  = phi_v([x_i, sum_j m_ij])      node model: the receiver's acceleration

phi_e and phi_v are MLPs with `layers` hidden layers of `hidden` ReLU units (the paper's 3 x 300).
The edge model is the module `edge_model`, whose output the gnn-symbolic-distill method reads
(L1 penalty) and analyses; `messages(x)` returns it with each edge's receiver and sender.
"""

from __future__ import annotations

import torch
from torch import nn

from zoo.config import Config, Field

__all__ = ["NBodyGNConfig", "NBodyGN", "mlp"]


class NBodyGNConfig(Config):
    node_features: int = Field(6, ge=1, le=1000, description="features per body (x, y, vx, vy, charge, mass)")
    dimensions: int = Field(2, ge=1, le=3, description="spatial dimensions: the acceleration's size per body")
    message_dim: int = Field(100, ge=1, le=10000, description="size of an edge message (the paper's 100)")
    hidden: int = Field(300, ge=1, le=100000, description="width of the hidden layers of phi_e and phi_v (300)")
    layers: int = Field(3, ge=1, le=20, description="hidden layers of phi_e and of phi_v (the paper's 3)")


def mlp(n_in: int, hidden: int, layers: int, n_out: int) -> nn.Sequential:
    sizes = [n_in] + [hidden] * layers
    modules: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        modules += [nn.Linear(a, b), nn.ReLU()]
    modules.append(nn.Linear(sizes[-1], n_out))
    return nn.Sequential(*modules)


class NBodyGN(nn.Module):
    """Inputs (batch, n, node_features); outputs (batch, n * dimensions), the accelerations flattened."""

    def __init__(self, config: NBodyGNConfig | None = None):
        super().__init__()
        self.config = config = config or NBodyGNConfig()
        self.edge_model = mlp(2 * config.node_features, config.hidden, config.layers, config.message_dim)
        self.node_model = mlp(config.node_features + config.message_dim, config.hidden, config.layers,
                              config.dimensions)

    @staticmethod
    def edges(n: int, device=None) -> tuple[torch.Tensor, torch.Tensor]:
        """(receivers, senders) of every ordered pair i != j."""
        receiver, sender = torch.meshgrid(torch.arange(n, device=device), torch.arange(n, device=device),
                                          indexing="ij")
        keep = receiver != sender
        return receiver[keep], sender[keep]

    def messages(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(messages (batch, edges, message_dim), receivers, senders)."""
        receiver, sender = self.edges(x.shape[1], x.device)
        return self.edge_model(torch.cat([x[:, receiver], x[:, sender]], dim=-1)), receiver, sender

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        messages, receiver, _ = self.messages(x)
        summed = torch.zeros(x.shape[0], x.shape[1], messages.shape[-1], dtype=messages.dtype, device=x.device)
        summed = summed.index_add(1, receiver, messages)
        return self.node_model(torch.cat([x, summed], dim=-1)).flatten(1)
