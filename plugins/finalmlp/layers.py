"""Building blocks shared by FinalMLP and its baselines (DeepFM, DCN) in this folder: per-field id
embeddings, a ReLU MLP, and the two-logit output the CTR tasks read."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FieldEmbedding", "mlp", "two_class_logits"]


def two_class_logits(logit: torch.Tensor) -> torch.Tensor:
    """(batch,) click logit z -> (batch, 2) logits (0, z), whose softmax is (1 - sigmoid(z), sigmoid(z))."""
    return torch.stack([torch.zeros_like(logit), logit], dim=-1)


def mlp(width: int, hidden: list[int], dropout: float = 0.0, batch_norm: bool = False) -> tuple[nn.Sequential, int]:
    """Linear -> (BatchNorm) -> ReLU -> (Dropout) for each hidden width; returns (network, output width)."""
    layers = []
    for h in hidden:
        layers.append(nn.Linear(width, h))
        if batch_norm:
            layers.append(nn.BatchNorm1d(h))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        width = h
    return nn.Sequential(*layers), width


class FieldEmbedding(nn.Module):
    """One `dim`-dimensional vector per (field, id): ids (batch, fields) -> (batch, fields, dim), one shared
    table offset per field, each field's rows Glorot-uniform. `dim=1` gives the per-id scalar weights of a
    first-order (linear) term."""

    def __init__(self, cardinalities: list[int], dim: int):
        super().__init__()
        self.cardinalities = list(cardinalities)
        self.table = nn.Embedding(sum(cardinalities), dim)
        starts = [sum(cardinalities[:f]) for f in range(len(cardinalities))]
        self.register_buffer("offsets", torch.tensor(starts), persistent=False)
        self.register_buffer("limits", torch.tensor(cardinalities), persistent=False)
        with torch.no_grad():
            for start, n in zip(starts, cardinalities):
                nn.init.xavier_uniform_(self.table.weight[start:start + n])

    def check(self, ids: torch.Tensor) -> None:
        if not isinstance(ids, torch.Tensor) or ids.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"ids must be an integer tensor of field ids, got {getattr(ids, 'dtype', type(ids).__name__)}")
        if ids.dim() != 2 or ids.shape[1] != len(self.cardinalities):
            raise ValueError(f"ids must have shape (batch, {len(self.cardinalities)}) (one id per field), "
                             f"got {tuple(ids.shape)}")
        if not torch.compiler.is_compiling() and bool(((ids < 0) | (ids >= self.limits)).any()):
            raise ValueError(f"ids out of range: field f takes ids 0..cardinality-1, cardinalities {self.cardinalities}")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        self.check(ids)
        return self.table(ids.long() + self.offsets)
