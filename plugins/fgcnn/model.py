"""FGCNN (Liu et al., WWW 2019, "Feature Generation by Convolutional Neural Network for Click-Through Rate
Prediction"): categorical fields -> embedding matrix E (n_f x k, Sec. 3.1) -> Feature Generation (Sec. 3.2:
convolution h x 1 with tanh, max-pooling h_p x 1, and a fully connected recombination layer with tanh after
each pooling, each giving n_f^i m_r^i new k-dimensional features) -> Deep Classifier IPNN (Sec. 3.3) over the
raw and the new features: all pairwise inner products <e_i, e_j>, concatenated with the flattened
embeddings, through an MLP to the click logit. With `feature_generation=False` the same network is IPNN
alone (the paper's baseline)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import FGCNNConfig

__all__ = ["FieldEmbedding", "FeatureGeneration", "pairwise_inner_products", "FGCNN", "two_class_logits"]


def two_class_logits(logit: torch.Tensor) -> torch.Tensor:
    """(batch,) click logit z -> (batch, 2) logits (0, z): their softmax is (1 - sigmoid(z), sigmoid(z)),
    the output the CTR tasks' cross entropy and metrics read."""
    return torch.stack([torch.zeros_like(logit), logit], dim=-1)


class FieldEmbedding(nn.Module):
    """One k-dimensional embedding per (field, id): ids (batch, n_f) -> E (batch, n_f, k). The fields share
    one table, offset per field; each field's rows start Glorot-uniform."""

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
            raise ValueError(f"ids out of range: field f takes ids 0..cardinality-1, cardinalities "
                             f"{self.cardinalities}")

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        self.check(ids)
        return self.table(ids.long() + self.offsets)


class FeatureGeneration(nn.Module):
    """Sec. 3.2. E (batch, n_f, k) is a one-channel image of n_f rows and k columns. Layer i: convolution
    (h x 1 kernel, m^i maps, 'same' padding along the fields, tanh; Eq. 1), max-pooling (h_p x 1, Eq. 2;
    ceil mode, so a last partial window still yields a row), then recombination R^i = tanh(S^i W^i + B^i)
    (Eq. 3), a fully connected layer from the whole pooled output S^i (n_f^i x k x m^i) to n_f^i m_r^i new
    features of size k. The pooled S^i feeds layer i + 1. Returns all new features (batch, N, k),
    N = sum_i n_f^i m_r^i."""

    def __init__(self, fields: int, dim: int, channels: list[int], height: int, pool: int, recombined: list[int]):
        super().__init__()
        self.convs, self.recombine, self.rows = nn.ModuleList(), nn.ModuleList(), []
        self.dim, self.pool = dim, pool
        in_channels, rows = 1, fields
        for maps, new in zip(channels, recombined):
            self.convs.append(nn.Conv2d(in_channels, maps, kernel_size=(height, 1), padding=(height // 2, 0)))
            rows = math.ceil(rows / pool)
            self.recombine.append(nn.Linear(rows * dim * maps, rows * new * dim))
            self.rows.append(rows * new)
            in_channels = maps
        self.new_features = sum(self.rows)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        batch = embeddings.shape[0]
        image, generated = embeddings.unsqueeze(1), []
        for conv, recombine, rows in zip(self.convs, self.recombine, self.rows):
            image = F.max_pool2d(torch.tanh(conv(image)), kernel_size=(self.pool, 1), ceil_mode=True)
            generated.append(torch.tanh(recombine(image.flatten(1))).view(batch, rows, self.dim))
        return torch.cat(generated, dim=1)


def pairwise_inner_products(features: torch.Tensor) -> torch.Tensor:
    """(batch, n, k) -> (batch, n (n - 1) / 2): <e_i, e_j> for every pair i < j (row-major order)."""
    n = features.shape[1]
    gram = features @ features.transpose(1, 2)
    i, j = torch.triu_indices(n, n, offset=1, device=features.device)
    return gram[:, i, j]


class FGCNN(nn.Module):
    """forward(ids (batch, n_f) int64) -> (batch, 2) logits (0, z), z the click logit (see two_class_logits).

    Deep Classifier (IPNN, Sec. 3.3): with E' = [E; new features] of n = n_f + N rows, the MLP reads
    [flatten(E'), <e'_i, e'_j> for i < j] and ends in one logit."""

    def __init__(self, config: FGCNNConfig):
        super().__init__()
        self.config = config
        fields, k = len(config.field_cardinalities), config.embedding_dim
        self.embedding = FieldEmbedding(config.field_cardinalities, k)
        self.generation = (FeatureGeneration(fields, k, config.conv_channels, config.conv_height, config.pool_height,
                                             config.recombined_maps) if config.feature_generation else None)
        n = fields + (self.generation.new_features if self.generation is not None else 0)
        self.total_features = n
        layers, width = [], n * k + n * (n - 1) // 2
        for hidden in config.mlp_hidden:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = hidden
        self.mlp = nn.Sequential(*layers, nn.Linear(width, 1))

    def features(self, ids: torch.Tensor) -> torch.Tensor:
        """E' (batch, n_f + N, k): the raw embeddings, then the generated features (none for IPNN alone)."""
        raw = self.embedding(ids)
        if self.generation is None:
            return raw
        return torch.cat([raw, self.generation(raw)], dim=1)

    def click_logit(self, ids: torch.Tensor) -> torch.Tensor:
        features = self.features(ids)
        return self.mlp(torch.cat([features.flatten(1), pairwise_inner_products(features)], dim=1)).squeeze(-1)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return two_class_logits(self.click_logit(ids))
