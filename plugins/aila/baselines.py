"""The baselines AILA is compared with, for inputs that are sequences of feature vectors (a price
window (lookback, 1); a digit image read as 8 rows of 8 pixels): an LSTM, a small Transformer
encoder, and a residual MLP. Each maps (batch, steps, features) (or anything that reshapes to it)
to (batch, outputs)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["LSTMBaseline", "TransformerBaseline", "ResidualMLP"]


class LSTMBaseline(nn.Module):
    """One-layer LSTM over the steps; the last hidden state goes to a linear head."""

    def __init__(self, steps: int, features: int, outputs: int, hidden: int = 64):
        super().__init__()
        self.steps, self.features = steps, features
        self.lstm = nn.LSTM(features, hidden, batch_first=True)
        self.head = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, (h, _) = self.lstm(x.reshape(len(x), self.steps, self.features))
        return self.head(h[-1])


class TransformerBaseline(nn.Module):
    """Linear embedding plus learned positions, a small nn.TransformerEncoder, mean pooling, head."""

    def __init__(self, steps: int, features: int, outputs: int, dim: int = 32, heads: int = 4, layers: int = 2):
        super().__init__()
        self.steps, self.features = steps, features
        self.embed = nn.Linear(features, dim)
        self.position = nn.Parameter(torch.zeros(1, steps, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=2 * dim, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(dim, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x.reshape(len(x), self.steps, self.features)) + self.position
        return self.head(self.encoder(h).mean(1))


class ResidualMLP(nn.Module):
    """Input projection, residual blocks h + W2 relu(W1 h), linear head (a ResNet for flat inputs)."""

    def __init__(self, inputs: int, outputs: int, hidden: int = 64, blocks: int = 2):
        super().__init__()
        self.input = nn.Linear(inputs, hidden)
        self.blocks = nn.ModuleList(nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
                                    for _ in range(blocks))
        self.head = nn.Linear(hidden, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.input(x.reshape(len(x), -1)))
        for block in self.blocks:
            h = h + block(h)
        return self.head(h)
