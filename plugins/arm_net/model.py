"""ARM-Net (Cai, Zheng, Chen, Jagadish, Ooi & Zhang, SIGMOD 2021, arXiv:2107.01830, "ARM-Net: Adaptive
Relation Modeling Network for Structured Data").

- Preprocessing (Sec. 4.1): every attribute is a field embedding e_j (n_e values); a categorical value looks up
  its vector, a numeric value x_j scales its field's vector, x_j v_j.
- Exponential neurons (Sec. 4.2): a cross feature is y_i = exp(sum_j w_ij e_j) = prod_j exp(e_j)^(w_ij), taken
  element-wise over the embedding: the embeddings are read as log-space features, so a weighted sum in the
  exponent is a product of powers, a cross feature whose order and terms are set by the weights w_i.
- Multi-head gated sparse attention (Sec. 4.2): per head h a bilinear weight matrix W_h, per neuron a query
  q_i and a value vector v_i over the fields. The attention z_ij = e_j^T W_h q_i reads the input tuple, is
  normalised by alpha-entmax over the fields (exact zeros: fields left out of the cross feature), and gates
  the value vector: w_i = v_i * entmax_alpha(z_i). v_i (shared by all tuples) sets each term's exponent, sign
  included; the attention picks, per tuple, which terms take part.
- Prediction (Sec. 4.3): the K x o cross features, each normalised by a batch norm (one channel per exponential
  neuron, shared over its n_e values), go through an MLP to the logit. ARM-Net+ ensembles it with a DNN on its
  own embeddings: a linear layer over the two logits, starting as their average.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import ARMNetConfig
from .entmax import entmax
from .layers import FieldEmbedding, mlp, two_class_logits

__all__ = ["AdaptiveRelationModule", "ARMNet"]


class AdaptiveRelationModule(nn.Module):
    """(batch, m fields, n_e) embeddings -> (batch, heads, neurons, n_e) cross features y_i = exp(w_i^T E)."""

    def __init__(self, fields: int, dim: int, heads: int, neurons: int, alpha: float):
        super().__init__()
        self.alpha = alpha
        self.bilinear = nn.Parameter(torch.empty(heads, dim, dim))
        self.query = nn.Parameter(torch.empty(heads, neurons, dim))
        self.value = nn.Parameter(torch.empty(heads, neurons, fields))
        nn.init.xavier_uniform_(self.bilinear)
        nn.init.xavier_uniform_(self.query)
        nn.init.xavier_uniform_(self.value)

    def attention(self, embeddings: torch.Tensor) -> torch.Tensor:
        """entmax_alpha over the fields of z_ij = e_j^T W_h q_i (bilinear in the field embedding and the query):
        (batch, heads, neurons, fields), rows summing to 1."""
        keys = torch.einsum("bme,hef->bhmf", embeddings, self.bilinear)
        scores = torch.einsum("hkf,bhmf->bhkm", self.query, keys)
        return entmax(scores, self.alpha, dim=-1)

    def interaction_weights(self, embeddings: torch.Tensor) -> torch.Tensor:
        """w_i = v_i * attention_i: the exponent of every field in every cross feature, per tuple."""
        return self.value * self.attention(embeddings)

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        weights = self.interaction_weights(embeddings)
        return torch.exp(torch.einsum("bhkm,bme->bhke", weights, embeddings))


class ARMNet(nn.Module):
    """forward(x (batch, fields): int ids or float values) -> (batch, 2) logits (0, z), z the logit of class 1."""

    def __init__(self, config: ARMNetConfig):
        super().__init__()
        self.config = config
        d = config.embedding_dim
        self.embedding = FieldEmbedding(config.field_cardinalities, config.numeric_features, d)
        fields = self.embedding.fields
        self.relations = AdaptiveRelationModule(fields, d, config.heads, config.neurons, config.alpha)
        self.norm = nn.BatchNorm1d(config.heads * config.neurons)  # one channel per exponential neuron
        body, out = mlp(config.heads * config.neurons * d, config.mlp_hidden, config.dropout)
        self.head = nn.Sequential(body, nn.Linear(out, 1))
        if config.ensemble_hidden:  # ARM-Net+: a DNN with its own embeddings, logits added
            self.dnn_embedding = FieldEmbedding(config.field_cardinalities, config.numeric_features, d)
            body, out = mlp(fields * d, config.ensemble_hidden, config.dropout)
            self.dnn = nn.Sequential(body, nn.Linear(out, 1))
            self.ensemble = nn.Linear(2, 1)
            nn.init.constant_(self.ensemble.weight, 0.5)  # start as the average of the two logits
            nn.init.zeros_(self.ensemble.bias)
        else:
            self.dnn_embedding = self.dnn = self.ensemble = None

    def logit(self, x: torch.Tensor) -> torch.Tensor:
        cross = self.relations(self.embedding(x))                            # (batch, heads, neurons, n_e)
        cross = self.norm(cross.flatten(1, 2)).flatten(1)
        z = self.head(cross)
        if self.dnn is not None:
            z = self.ensemble(torch.cat([z, self.dnn(self.dnn_embedding(x).flatten(1))], dim=-1))
        return z.squeeze(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return two_class_logits(self.logit(x))
