"""The baselines of ARM-Net's reproduction, built from the same blocks so they train identically: an MLP on the
concatenated field embeddings and a factorization machine (Rendle, 2010). Not catalog models.

forward(x (batch, fields): int ids or float values) -> (batch, 2) logits (0, z), as ARM-Net's."""

from __future__ import annotations

import torch
from torch import nn

from .layers import FieldEmbedding, mlp, two_class_logits

__all__ = ["EmbeddingMLP", "FactorizationMachine"]


class EmbeddingMLP(nn.Module):
    """z = MLP([e_1, ..., e_m])."""

    def __init__(self, cardinalities: list[int], numeric: int, dim: int = 10, hidden: list[int] = (300, 300)):
        super().__init__()
        self.embedding = FieldEmbedding(cardinalities, numeric, dim)
        body, out = mlp(self.embedding.fields * dim, list(hidden))
        self.net = nn.Sequential(body, nn.Linear(out, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return two_class_logits(self.net(self.embedding(x).flatten(1)).squeeze(-1))


class FactorizationMachine(nn.Module):
    """z = b + sum_j w_j + sum_{i<j} <e_i, e_j>, with w_j = x_j's first-order weight (a per-id scalar for ids,
    w_j x_j for numeric values) and the pairwise sum by Rendle's identity."""

    def __init__(self, cardinalities: list[int], numeric: int, dim: int = 10):
        super().__init__()
        self.embedding = FieldEmbedding(cardinalities, numeric, dim)
        self.first_order = FieldEmbedding(cardinalities, numeric, 1)
        nn.init.zeros_(self.first_order.table.weight)
        self.bias = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        e = self.embedding(x)
        pairs = 0.5 * (e.sum(1).pow(2) - e.pow(2).sum(1)).sum(-1)
        return two_class_logits(self.bias + self.first_order(x).sum((1, 2)) + pairs)
