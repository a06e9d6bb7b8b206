"""Blocks shared by ARM-Net and its baselines (MLP, FM) in this folder: field embeddings for categorical ids or
numeric values, a ReLU MLP, and the two-logit output the binary tasks read."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["FieldEmbedding", "mlp", "two_class_logits"]


def two_class_logits(logit: torch.Tensor) -> torch.Tensor:
    """(batch,) logit z -> (batch, 2) logits (0, z), whose softmax is (1 - sigmoid(z), sigmoid(z))."""
    return torch.stack([torch.zeros_like(logit), logit], dim=-1)


def mlp(width: int, hidden: list[int], dropout: float = 0.0) -> tuple[nn.Sequential, int]:
    """Linear -> ReLU -> (Dropout) for each hidden width; returns (network, output width)."""
    layers = []
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
        width = h
    return nn.Sequential(*layers), width


class FieldEmbedding(nn.Module):
    """Categorical: ids (batch, fields) int -> one learned vector per (field, id), Glorot-uniform per field.
    Numeric (`cardinalities` empty, `numeric` > 0): x (batch, features) float -> x_j v_j, one learned vector v_j
    per feature (ARM-Net Sec. 4.1). Both give (batch, fields, dim)."""

    def __init__(self, cardinalities: list[int], numeric: int, dim: int):
        super().__init__()
        self.cardinalities, self.numeric = list(cardinalities), numeric
        self.fields = len(cardinalities) or numeric
        rows = sum(cardinalities) if cardinalities else numeric
        self.table = nn.Embedding(rows, dim)
        starts = [sum(cardinalities[:f]) for f in range(len(cardinalities))]
        self.register_buffer("offsets", torch.tensor(starts, dtype=torch.long), persistent=False)
        self.register_buffer("limits", torch.tensor(cardinalities, dtype=torch.long), persistent=False)
        with torch.no_grad():
            for start, n in (zip(starts, cardinalities) if cardinalities else [(0, numeric)]):
                nn.init.xavier_uniform_(self.table.weight[start:start + n])

    def check(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"inputs must be a tensor, got {type(x).__name__}")
        if x.dim() != 2 or x.shape[1] != self.fields:
            raise ValueError(f"inputs must have shape (batch, {self.fields}), got {tuple(x.shape)}")
        if self.cardinalities:
            if x.is_floating_point():
                raise TypeError(f"this model embeds categorical ids: inputs must be integers, got {x.dtype}")
            if not torch.compiler.is_compiling() and bool(((x < 0) | (x >= self.limits)).any()):
                raise ValueError(f"ids out of range: field f takes ids 0..cardinality-1, cardinalities "
                                 f"{self.cardinalities}")
        elif not x.is_floating_point():
            raise TypeError(f"this model embeds numeric features: inputs must be floating point, got {x.dtype}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check(x)
        if self.cardinalities:
            return self.table(x.long() + self.offsets)
        return x.unsqueeze(-1) * self.table.weight
