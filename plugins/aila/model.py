"""AILA: Adaptive Integrated Layered Attention (2025).

A plain feed-forward stack passes each layer only the output of the layer below. AILA connects
every layer to the outputs of all earlier layers and lets the network choose, adaptively, how much
of each to use. With h_0 = act(W_in x) and l = 1..L:

- attention connections (the paper's attention variant): the layer's state h_(l-1) is the query,
  the earlier outputs h_0..h_(l-1) are keys and values,

      q = W_q h_(l-1),  k_j = W_k h_j,  alpha_j = softmax_j(q . k_j / sqrt(d)),
      c_l = sum_j alpha_j h_j,

  so the mix depends on the sample;
- gated connections (the lighter variant): c_l = sum_j softmax(a_l)_j h_j with learned logits a_l,
  the same mix for every sample;

then h_l = act(W_l c_l + b_l) (dropout optional), and the output is W_out h_L. connection="none"
is the plain stack (c_l = h_(l-1)), the ablation.

Departures: the layers are fully connected with ReLU over flattened inputs and one attention head
per layer; the paper's per-task front ends (and any normalisation it adds) are not built.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import AILAConfig

__all__ = ["AILA", "LayerAttention"]


class LayerAttention(nn.Module):
    """Dot-product attention of one query state over a stack of earlier layer outputs."""

    def __init__(self, dim: int):
        super().__init__()
        self.query = nn.Linear(dim, dim, bias=False)
        self.key = nn.Linear(dim, dim, bias=False)

    def forward(self, state: torch.Tensor, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """state (batch, d), outputs (batch, n, d) -> (context (batch, d), weights (batch, n))."""
        scores = torch.einsum("bd,bnd->bn", self.query(state), self.key(outputs)) / math.sqrt(state.shape[-1])
        weights = scores.softmax(-1)
        return torch.einsum("bn,bnd->bd", weights, outputs), weights


class AILA(nn.Module):
    """Input projection, `layers` fully connected layers with adaptive connections to all earlier
    outputs, linear read-out."""

    def __init__(self, config: AILAConfig | None = None):
        super().__init__()
        self.config = c = config or AILAConfig()
        self.input = nn.Linear(c.input_dim, c.hidden_dim)
        self.layers = nn.ModuleList(nn.Linear(c.hidden_dim, c.hidden_dim) for _ in range(c.layers))
        if c.connection == "attention":
            self.connections = nn.ModuleList(LayerAttention(c.hidden_dim) for _ in range(c.layers))
        elif c.connection == "gated":
            # layer l mixes l earlier outputs; zero logits: the plain average at the start
            self.gates = nn.ParameterList(nn.Parameter(torch.zeros(l + 1)) for l in range(c.layers))
        self.dropout = nn.Dropout(c.dropout)
        self.head = nn.Linear(c.hidden_dim, c.output_dim)
        self.last_weights: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, ...) inputs with input_dim features in all -> (batch, output_dim)."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"aila expects a floating-point tensor, got {getattr(x, 'dtype', type(x).__name__)}")
        x = x.reshape(len(x), -1) if x.dim() > 1 else x
        if x.dim() != 2 or x.shape[1] != self.config.input_dim:
            raise ValueError(f"aila expects inputs of shape (batch, {self.config.input_dim}) (or any shape with "
                             f"{self.config.input_dim} features per sample), got {tuple(x.shape)}")
        outputs = [F.relu(self.input(x))]
        weights = []
        for l, layer in enumerate(self.layers):
            context, mix = self._connect(l, outputs)
            weights.append(mix)
            outputs.append(self.dropout(F.relu(layer(context))))
        self.last_weights = [w.detach() for w in weights if w is not None]
        return self.head(outputs[-1])

    def _connect(self, l: int, outputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The input of layer l: an adaptive mix of outputs[0..l], and the mixing weights."""
        connection = self.config.connection
        if connection == "none":
            return outputs[-1], None
        stack = torch.stack(outputs, dim=1)  # (batch, l + 1, d)
        if connection == "attention":
            return self.connections[l](outputs[-1], stack)
        mix = self.gates[l].softmax(0)
        return torch.einsum("n,bnd->bd", mix, stack), mix
