"""The two-stream CTR baselines FinalMLP is compared with (the paper's Table 2), built from the same blocks so
they train identically in the reproduction: DeepFM (Guo et al., IJCAI 2017) and DCN (Wang et al., ADKDD 2017,
the original cross network). Not catalog models; the reproduction builds them directly.

forward(ids (batch, fields) int64) -> (batch, 2) logits (0, z), as FinalMLP's."""

from __future__ import annotations

import torch
from torch import nn

from .layers import FieldEmbedding, mlp, two_class_logits

__all__ = ["DeepFM", "CrossNetwork", "DCN", "fm_second_order"]


def fm_second_order(embeddings: torch.Tensor) -> torch.Tensor:
    """sum_{i<j} <e_i, e_j> = 1/2 sum_d [(sum_i e_id)^2 - sum_i e_id^2] (Rendle's identity): (batch, f, d) -> (batch,)."""
    return 0.5 * (embeddings.sum(1).pow(2) - embeddings.pow(2).sum(1)).sum(-1)


class DeepFM(nn.Module):
    """y = sigmoid(FM + DNN): FM = bias + sum_i w_i + sum_{i<j} <e_i, e_j> and a DNN over [e_1, ..., e_f], the
    embeddings shared by both parts."""

    def __init__(self, cardinalities: list[int], embedding_dim: int = 10, hidden: list[int] = (400, 400, 400),
                 dropout: float = 0.0, batch_norm: bool = False):
        super().__init__()
        self.embedding = FieldEmbedding(cardinalities, embedding_dim)
        self.first_order = FieldEmbedding(cardinalities, 1)
        nn.init.zeros_(self.first_order.table.weight)
        self.bias = nn.Parameter(torch.zeros(()))
        body, width = mlp(len(cardinalities) * embedding_dim, list(hidden), dropout, batch_norm)
        self.dnn = nn.Sequential(body, nn.Linear(width, 1))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        e = self.embedding(ids)
        fm = self.bias + self.first_order(ids).sum((1, 2)) + fm_second_order(e)
        return two_class_logits(fm + self.dnn(e.flatten(1)).squeeze(-1))


class CrossNetwork(nn.Module):
    """x_{l+1} = x_0 (x_l^T w_l) + b_l + x_l (DCN, Eq. 3), for `layers` layers."""

    def __init__(self, width: int, layers: int):
        super().__init__()
        self.weights = nn.Parameter(torch.randn(layers, width) / width ** 0.5)
        self.biases = nn.Parameter(torch.zeros(layers, width))

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for w, b in zip(self.weights, self.biases):
            x = x0 * (x @ w).unsqueeze(-1) + b + x
        return x


class DCN(nn.Module):
    """DCN: a cross network and a DNN side by side on x_0 = [e_1, ..., e_f], their outputs concatenated into one
    logistic layer."""

    def __init__(self, cardinalities: list[int], embedding_dim: int = 10, hidden: list[int] = (400, 400, 400),
                 cross_layers: int = 3, dropout: float = 0.0, batch_norm: bool = False):
        super().__init__()
        width = len(cardinalities) * embedding_dim
        self.embedding = FieldEmbedding(cardinalities, embedding_dim)
        self.cross = CrossNetwork(width, cross_layers)
        self.dnn, deep = mlp(width, list(hidden), dropout, batch_norm)
        self.out = nn.Linear(width + deep, 1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x0 = self.embedding(ids).flatten(1)
        return two_class_logits(self.out(torch.cat([self.cross(x0), self.dnn(x0)], dim=-1)).squeeze(-1))
