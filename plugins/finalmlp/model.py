"""FinalMLP (Mao, Zhu, Su, Cai, Li & Dong, AAAI 2023, arXiv:2304.00902): an enhanced two-stream MLP for
CTR prediction.

- Embedding: e = [e_1, ..., e_f], the concatenated field embeddings (Sec. 3.1).
- Stream-specific feature selection (Sec. 3.2, Eq. 2): for stream i, g_i = 2 sigmoid(MLP_gi(x_i)) and
  h_i = g_i * e, where x_i is the concatenated embedding of stream i's context fields, or a learnable
  vector when it has none; the factor 2 keeps an average gate of 1.
- Two MLP streams (Eq. 1): o_1 = MLP_1(h_1), o_2 = MLP_2(h_2), of different depths and widths.
- Multi-head bilinear interaction aggregation (Sec. 3.3, Eqs. 3-4): o_1 and o_2 are cut into k heads;
  BF(o_1j, o_2j) = b + w_1^T o_1j + w_2^T o_2j + o_1j^T W_3j o_2j, and y = sigmoid(sum_j BF(o_1j, o_2j)).
  The linear terms over all heads together are one w_1^T o_1 + w_2^T o_2.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import FinalMLPConfig
from .layers import FieldEmbedding, mlp, two_class_logits

__all__ = ["FeatureGate", "BilinearAggregation", "FinalMLP"]


class FeatureGate(nn.Module):
    """g = 2 sigmoid(MLP(x)) over the flattened embeddings, x = the context fields' embeddings (or a learnable
    vector of one embedding's size when there are none). forward(embeddings (batch, fields, d)) -> g * e flat."""

    def __init__(self, fields: int, dim: int, context: list[int], hidden: list[int]):
        super().__init__()
        self.context = list(context)
        self.learned_context = nn.Parameter(torch.zeros(dim)) if not self.context else None
        width = dim * max(1, len(self.context))
        body, width = mlp(width, hidden)
        self.net = nn.Sequential(body, nn.Linear(width, fields * dim))

    def gate(self, embeddings: torch.Tensor) -> torch.Tensor:
        if self.learned_context is None:
            x = embeddings[:, self.context].flatten(1)
        else:
            x = self.learned_context.expand(embeddings.shape[0], -1)
        return 2.0 * torch.sigmoid(self.net(x))

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        return self.gate(embeddings) * embeddings.flatten(1)


class BilinearAggregation(nn.Module):
    """sum_j [b + w_1^T o_1j + w_2^T o_2j + o_1j^T W_3j o_2j] over k heads (Eqs. 3-4): (batch, d1), (batch, d2)
    -> (batch,) logit."""

    def __init__(self, dim1: int, dim2: int, heads: int):
        super().__init__()
        if dim1 % heads or dim2 % heads:
            raise ValueError(f"heads={heads} must divide both stream widths {dim1} and {dim2}")
        self.heads = heads
        self.linear1 = nn.Linear(dim1, 1)
        self.linear2 = nn.Linear(dim2, 1, bias=False)
        self.bilinear = nn.Parameter(torch.empty(heads, dim1 // heads, dim2 // heads))
        nn.init.xavier_normal_(self.bilinear)

    def forward(self, o1: torch.Tensor, o2: torch.Tensor) -> torch.Tensor:
        h1 = o1.view(o1.shape[0], self.heads, -1)
        h2 = o2.view(o2.shape[0], self.heads, -1)
        bilinear = torch.einsum("bhi,hij,bhj->b", h1, self.bilinear, h2)
        return self.linear1(o1).squeeze(-1) + self.linear2(o2).squeeze(-1) + bilinear


class FinalMLP(nn.Module):
    """forward(ids (batch, fields) int64) -> (batch, 2) logits (0, z), z the click logit. With
    `feature_selection=False` both streams read e; with `aggregation=False` the streams are fused by one linear
    layer on [o_1, o_2] (the plain two-stream MLP of the paper's Sec. 2)."""

    def __init__(self, config: FinalMLPConfig):
        super().__init__()
        self.config = config
        fields, d = len(config.field_cardinalities), config.embedding_dim
        self.embedding = FieldEmbedding(config.field_cardinalities, d)
        self.gates = (nn.ModuleList([FeatureGate(fields, d, config.gate1_context, config.gate_hidden),
                                     FeatureGate(fields, d, config.gate2_context, config.gate_hidden)])
                      if config.feature_selection else None)
        self.stream1, o1 = mlp(fields * d, config.stream1_hidden, config.dropout, config.batch_norm)
        self.stream2, o2 = mlp(fields * d, config.stream2_hidden, config.dropout, config.batch_norm)
        self.fusion = BilinearAggregation(o1, o2, config.heads) if config.aggregation else nn.Linear(o1 + o2, 1)

    def stream_inputs(self, embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(h_1, h_2): the gated embeddings each stream reads (both e itself without feature selection)."""
        if self.gates is None:
            flat = embeddings.flatten(1)
            return flat, flat
        return self.gates[0](embeddings), self.gates[1](embeddings)

    def click_logit(self, ids: torch.Tensor) -> torch.Tensor:
        h1, h2 = self.stream_inputs(self.embedding(ids))
        o1, o2 = self.stream1(h1), self.stream2(h2)
        if self.config.aggregation:
            return self.fusion(o1, o2)
        return self.fusion(torch.cat([o1, o2], dim=-1)).squeeze(-1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return two_class_logits(self.click_logit(ids))
