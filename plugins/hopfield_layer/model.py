"""Hopfield Networks is All You Need (Ramsauer, Schafl, Lehner, Seidl, Widrich, Adler, Gruber,
Holzleitner, Pavlovic, Sandve, Greiff, Kreil, Kopp, Klambauer, Brandstetter and Hochreiter, 2020,
arXiv:2008.02217).

The modern continuous Hopfield network stores patterns X = (x_1, ..., x_N) and updates a state
pattern xi by (paper Eq. 3)

    xi_new = X softmax(beta X^T xi),

which minimises its energy E = -lse(beta, X^T xi) + xi^T xi / 2 + const and typically retrieves a
stored pattern in one update, with a storage capacity exponential in the dimension. With state
patterns R, stored patterns Y and projections W_Q, W_K, W_V (Eq. 10),

    Z = softmax(beta R W_Q W_K^T Y^T) Y W_K W_V,

which is transformer attention with beta = 1/sqrt(d_k). The paper's three layers:
- `Hopfield`: R and Y are both inputs (associating two sets, or a set with itself).
- `HopfieldPooling`: R is a learned static state pattern (the query), Y the input: pooling a set.
- `HopfieldLayer`: R is the input, the stored patterns are learned weights: a memory/prototype
  lookup. Keys (Y W_K) and values are trained as two independent matrices, a relaxation of Eq. 10,
  where the values are tied to the keys through W_V (Y W_K W_V).
`update_steps` > 1 repeats the update in the association space before reading out the values.

`HopfieldClassifier` puts one layer on tabular data: the sample as one state pattern against
learned stored patterns (hopfield-layer), or each feature as a token (x_f w_f + b_f) pooled by a
learned query (hopfield-pooling) or associated with the others and averaged (hopfield).

Departures from the paper: none in the update; in `HopfieldLayer` the values are not tied to the
keys (see above). The authors' `hopfield-layers` package is not on
PyPI, so agreement is shown against torch's nn.MultiheadAttention (same weights, same outputs),
which the paper states Eq. 10 reduces to; its extra options (pattern normalisation, association
masks, static patterns as keys/values separately) are not reproduced.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import HopfieldConfig

__all__ = ["hopfield_update", "Hopfield", "HopfieldPooling", "HopfieldLayer", "HopfieldClassifier"]


def hopfield_update(stored: torch.Tensor, state: torch.Tensor, beta: float, steps: int = 1) -> torch.Tensor:
    """xi_new = X softmax(beta X^T xi), `steps` times (Eq. 3), in row form.

    stored: (..., N, d) patterns as rows; state: (..., S, d) state patterns as rows.
    """
    if stored.shape[-1] != state.shape[-1]:
        raise ValueError(f"stored patterns (..., N, d) and states (..., S, d) need the same d, got "
                         f"{tuple(stored.shape)} and {tuple(state.shape)}")
    for _ in range(steps):
        state = torch.softmax(beta * state @ stored.transpose(-1, -2), dim=-1) @ stored
    return state


class _Association(nn.Module):
    """Multi-head softmax(beta Q K^T) V with the Hopfield update repeated in (Q, K) space."""

    def __init__(self, hidden_size: int, num_heads: int, beta: float | None, update_steps: int, dropout: float):
        super().__init__()
        self.heads, self.hidden = num_heads, hidden_size
        self.beta = beta if beta is not None else 1.0 / math.sqrt(hidden_size)
        self.steps, self.dropout = update_steps, dropout

    def split(self, x: torch.Tensor) -> torch.Tensor:
        return x.unflatten(-1, (self.heads, -1)).transpose(-3, -2)  # (B, heads, L, d)

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        q, k, v = self.split(q), self.split(k), self.split(v)
        for _ in range(self.steps - 1):
            q = torch.softmax(self.beta * q @ k.transpose(-1, -2), dim=-1) @ k
        # the last update reads out the values: torch's fused attention with scale = beta
        out = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0,
                                             scale=self.beta)
        return out.transpose(-3, -2).flatten(-2)  # (B, L, heads * d_v)


class Hopfield(nn.Module):
    """Z = softmax(beta R W_Q (Y W_K)^T) Y W_K W_V, then an output projection W_O.

    forward(stored (B, N, input_size), state (B, S, input_size)) -> (B, S, output_size).
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, num_heads: int = 1,
                 beta: float | None = None, update_steps: int = 1, dropout: float = 0.0):
        super().__init__()
        inner = hidden_size * num_heads
        self.w_q = nn.Linear(input_size, inner, bias=False)
        self.w_k = nn.Linear(input_size, inner, bias=False)
        self.w_v = nn.Linear(hidden_size, hidden_size, bias=False)  # per head, applied to Y W_K (Eq. 10)
        self.w_o = nn.Linear(inner, output_size, bias=False)
        self.association = _Association(hidden_size, num_heads, beta, update_steps, dropout)
        self.input_size = input_size

    def forward(self, stored: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        for name, t in (("stored", stored), ("state", state)):
            if t.dim() != 3 or t.shape[-1] != self.input_size:
                raise ValueError(f"Hopfield expects {name} patterns of shape (batch, count, {self.input_size}), got {tuple(t.shape)}")
        keys = self.w_k(stored)
        values = self.w_v(keys.unflatten(-1, (self.association.heads, -1))).flatten(-2)
        return self.w_o(self.association(self.w_q(state), keys, values))


class HopfieldPooling(nn.Module):
    """Learned state patterns pool a set: forward(stored (B, N, input_size)) -> (B, quantity, output_size)."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, quantity: int = 1, **kwargs):
        super().__init__()
        self.hopfield = Hopfield(input_size, hidden_size, output_size, **kwargs)
        self.state = nn.Parameter(torch.randn(quantity, input_size) / math.sqrt(input_size))

    def forward(self, stored: torch.Tensor) -> torch.Tensor:
        return self.hopfield(stored, self.state.expand(stored.shape[0], -1, -1))


class HopfieldLayer(nn.Module):
    """Learned stored patterns looked up by the input: forward(state (B, S, input_size)) -> (B, S, output_size).

    The stored patterns enter only through Y W_K (keys) and Y W_K W_V (values); both are trained
    directly as independent (quantity, heads * d) matrices, which relaxes Eq. 10's tie of the values
    to the keys through W_V."""

    def __init__(self, input_size: int, hidden_size: int, output_size: int, quantity: int, num_heads: int = 1,
                 beta: float | None = None, update_steps: int = 1, dropout: float = 0.0):
        super().__init__()
        inner = hidden_size * num_heads
        self.w_q = nn.Linear(input_size, inner, bias=False)
        self.keys = nn.Parameter(torch.randn(quantity, inner) / math.sqrt(hidden_size))
        self.values = nn.Parameter(torch.randn(quantity, inner) / math.sqrt(hidden_size))
        self.w_o = nn.Linear(inner, output_size, bias=False)
        self.association = _Association(hidden_size, num_heads, beta, update_steps, dropout)
        self.input_size = input_size

    def forward(self, state: torch.Tensor) -> torch.Tensor:
        if state.dim() != 3 or state.shape[-1] != self.input_size:
            raise ValueError(f"HopfieldLayer expects state patterns of shape (batch, count, {self.input_size}), got {tuple(state.shape)}")
        batch = state.shape[0]
        keys = self.keys.expand(batch, -1, -1)
        values = self.values.expand(batch, -1, -1)
        return self.w_o(self.association(self.w_q(state), keys, values))


class HopfieldClassifier(nn.Module):
    """forward(x (B, in_features) float) -> class logits (B, num_classes)."""

    def __init__(self, config: HopfieldConfig | None = None):
        super().__init__()
        self.config = c = config or HopfieldConfig()
        kwargs = dict(num_heads=c.num_heads, beta=c.beta, update_steps=c.update_steps, dropout=c.dropout)
        d = c.embedding_dim
        if c.layer == "hopfield-layer":
            self.embed = nn.Linear(c.in_features, d)
            self.hopfield = HopfieldLayer(d, c.hidden_size, d, c.num_stored_patterns, **kwargs)
        else:
            # each feature becomes a token x_f * w_f + b_f (a per-feature linear embedding)
            self.token_weight = nn.Parameter(torch.randn(c.in_features, d))
            self.token_bias = nn.Parameter(torch.zeros(c.in_features, d))
            if c.layer == "hopfield-pooling":
                self.hopfield = HopfieldPooling(d, c.hidden_size, d, quantity=c.num_state_patterns, **kwargs)
            else:
                self.hopfield = Hopfield(d, c.hidden_size, d, **kwargs)
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, c.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        if x.dim() != 2 or x.shape[1] != c.in_features:
            raise ValueError(f"HopfieldClassifier expects input of shape (batch, {c.in_features}), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"HopfieldClassifier expects floating-point features, got {x.dtype}")
        if c.layer == "hopfield-layer":
            z = self.hopfield(self.embed(x).unsqueeze(1))  # the sample is one state pattern
        else:
            tokens = x.unsqueeze(-1) * self.token_weight + self.token_bias  # (B, F, d)
            z = self.hopfield(tokens) if c.layer == "hopfield-pooling" else self.hopfield(tokens, tokens)
        return self.head(self.norm(z.mean(1)))
