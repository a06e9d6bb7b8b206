"""Blocks shared by DTRN and its baselines (MMoE, PLE) in this folder: field and behaviour-sequence embeddings,
target attention over a behaviour sequence, and a ReLU MLP."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["InputEmbedding", "target_attention", "TargetAttention", "mlp"]


def mlp(width: int, hidden: list[int]) -> tuple[nn.Sequential, int]:
    """Linear -> ReLU for each hidden width; returns (network, output width)."""
    layers = []
    for h in hidden:
        layers += [nn.Linear(width, h), nn.ReLU()]
        width = h
    return nn.Sequential(*layers), width


class InputEmbedding(nn.Module):
    """ids (batch, fields) -> field embeddings (batch, fields, d); histories (batch, types, length) of item ids ->
    (batch, types, length, d), looked up in the item field's rows (a behaviour is an item). Glorot-uniform per field."""

    def __init__(self, cardinalities: list[int], item_field: int, history_types: int, dim: int):
        super().__init__()
        self.cardinalities, self.item_field, self.history_types = list(cardinalities), item_field, history_types
        self.table = nn.Embedding(sum(cardinalities), dim)
        starts = [sum(cardinalities[:f]) for f in range(len(cardinalities))]
        self.item_offset = starts[item_field]
        self.register_buffer("offsets", torch.tensor(starts, dtype=torch.long), persistent=False)
        self.register_buffer("limits", torch.tensor(cardinalities, dtype=torch.long), persistent=False)
        with torch.no_grad():
            for start, n in zip(starts, cardinalities):
                nn.init.xavier_uniform_(self.table.weight[start:start + n])

    def check(self, ids: torch.Tensor, histories: torch.Tensor) -> None:
        for name, t in (("ids", ids), ("histories", histories)):
            if not isinstance(t, torch.Tensor) or t.is_floating_point() or t.dtype == torch.bool:
                raise TypeError(f"{name} must be an integer tensor, got {getattr(t, 'dtype', type(t).__name__)}")
        if ids.dim() != 2 or ids.shape[1] != len(self.cardinalities):
            raise ValueError(f"ids must have shape (batch, {len(self.cardinalities)}), got {tuple(ids.shape)}")
        if histories.dim() != 3 or histories.shape[:2] != (ids.shape[0], self.history_types):
            raise ValueError(f"histories must have shape (batch={ids.shape[0]}, {self.history_types}, length) of item "
                             f"ids, got {tuple(histories.shape)}")
        if torch.compiler.is_compiling():
            return
        if bool(((ids < 0) | (ids >= self.limits)).any()):
            raise ValueError(f"ids out of range: field f takes ids 0..cardinality-1, cardinalities {self.cardinalities}")
        items = self.cardinalities[self.item_field]
        if bool(((histories < 0) | (histories >= items)).any()):
            raise ValueError(f"history item ids out of range: expected 0..{items - 1}")

    def forward(self, ids: torch.Tensor, histories: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.check(ids, histories)
        return self.table(ids.long() + self.offsets), self.table(histories.long() + self.item_offset)


def target_attention(query: torch.Tensor, keys: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """sum_j softmax_j(<q, k_j> / sqrt(d)) v_j: query (batch, d), keys / values (batch, length, d) -> (batch, d)."""
    scores = torch.einsum("bd,bld->bl", query, keys) / keys.shape[-1] ** 0.5
    return torch.einsum("bl,bld->bd", scores.softmax(-1), values)


class TargetAttention(nn.Module):
    """An interest extractor with its own weights: the candidate item attends over one behaviour sequence,
    q = W_q c, k_j = W_k h_j, v_j = W_v h_j."""

    def __init__(self, dim: int):
        super().__init__()
        self.query, self.key, self.value = (nn.Linear(dim, dim, bias=False) for _ in range(3))

    def forward(self, candidate: torch.Tensor, sequence: torch.Tensor) -> torch.Tensor:
        return target_attention(self.query(candidate), self.key(sequence), self.value(sequence))
