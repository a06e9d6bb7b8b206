"""A decoder-only Transformer whose attention has `kv_heads` key/value heads: multi-head attention
(kv_heads = h) or the multi-query attention of Shazeer (2019, arXiv:1911.02150), kv_heads = 1.

The paper's Sec. 2.4 (multi-head) and Sec. 3 (multi-query) in its einsum notation:

    Q = einsum("bnd,hdk->bhnk", X, P_q)          K = einsum("bmd,hdk->bhmk", M, P_k)   (multi-head)
                                                 K = einsum("bmd,dk->bmk", M, P_k)      (multi-query)
    logits = einsum("bhnk,bhmk->bhnm", Q, K)  or  einsum("bhnk,bmk->bhnm", Q, K)
    O = einsum("bhnm,bhmv->bhnv", softmax(logits), V),  Y = einsum("bhnv,hdv->bnd", O, P_o)

`MultiQueryAttention` computes these with torch's scaled_dot_product_attention; the shared heads are
passed once (`enable_gqa`), never copied per query head. Incremental decoding (the paper's Sec. 2.4.1
and 3.1) keeps a key/value cache per layer, `KVCache`, of shape (batch, kv_heads, max_len, d_k): h
times smaller for multi-query attention, which is the paper's whole point -- each decoding step reads
the cache once, so its memory traffic falls by h. One decoding step folds the h query heads of a
shared key/value head into the query-length axis, so one batched matmul reads each cached key once.

Departures from the paper: decoder-only (the paper's model is an encoder-decoder for WMT14 En-De);
pre-layer-norm sub-layers, sinusoidal positions, tied input/output embeddings and ReLU feed-forward
layers, as in Tensor2Tensor's transformer_base that the paper builds on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .config import MQAConfig

__all__ = ["KVCache", "MultiQueryAttention", "DecoderLayer", "MQATransformer", "sinusoidal_positions"]


def sinusoidal_positions(positions: torch.Tensor, d_model: int) -> torch.Tensor:
    """Vaswani et al. (2017) position encodings, (len(positions), d_model)."""
    half = d_model // 2
    frequencies = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / max(half, 1))
    angles = positions.float()[:, None] * frequencies[None, :]
    table = torch.cat([torch.sin(angles), torch.cos(angles)], dim=-1)
    return F.pad(table, (0, d_model - 2 * half))


@dataclass
class KVCache:
    """Keys and values of the positions decoded so far, one (keys, values) pair per layer, each of
    shape (batch, kv_heads, max_len, d_k); `length` positions are filled."""

    keys: list[torch.Tensor]
    values: list[torch.Tensor]
    length: int = 0

    @property
    def max_len(self) -> int:
        return self.keys[0].shape[2]

    def numel(self) -> int:
        """Cached numbers over all layers (keys and values, full allocation)."""
        return sum(k.numel() + v.numel() for k, v in zip(self.keys, self.values))


class MultiQueryAttention(nn.Module):
    """Causal self-attention with `num_heads` query heads and `kv_heads` key/value heads."""

    def __init__(self, d_model: int, num_heads: int, kv_heads: int):
        super().__init__()
        self.num_heads, self.kv_heads, self.head_dim = num_heads, kv_heads, d_model // num_heads
        self.query = nn.Linear(d_model, num_heads * self.head_dim, bias=False)  # P_q
        self.key = nn.Linear(d_model, kv_heads * self.head_dim, bias=False)  # P_k: one head for multi-query
        self.value = nn.Linear(d_model, kv_heads * self.head_dim, bias=False)  # P_v
        self.output = nn.Linear(num_heads * self.head_dim, d_model, bias=False)  # P_o

    def _split(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, heads, self.head_dim).transpose(1, 2)  # (batch, heads, length, d_k)

    def forward(self, x: torch.Tensor, cache: tuple[torch.Tensor, torch.Tensor] | None = None,
                start: int = 0) -> torch.Tensor:
        """x: (batch, length, d_model). With `cache` (keys, values of one layer), the new keys and
        values are written at positions start .. start + length and attention reads positions
        0 .. start + length; without it, plain causal attention over x."""
        batch, length, _ = x.shape
        q = self._split(self.query(x), self.num_heads)
        k = self._split(self.key(x), self.kv_heads)
        v = self._split(self.value(x), self.kv_heads)
        shared = self.kv_heads < self.num_heads
        if cache is None:
            o = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=shared)
        else:
            keys, values = cache
            end = start + length
            keys[:, :, start:end] = k
            values[:, :, start:end] = v
            k, v = keys[:, :, :end], values[:, :, :end]
            if length == 1:
                # one new query per head sees every cached position: fold the num_heads / kv_heads query
                # heads of each key/value head into the query axis, so each cached key is read once
                group = self.num_heads // self.kv_heads
                folded = q.reshape(batch, self.kv_heads, group, self.head_dim)
                o = F.scaled_dot_product_attention(folded, k, v).reshape(batch, self.num_heads, 1, self.head_dim)
            else:
                visible = torch.ones(length, end, dtype=torch.bool, device=x.device).tril(diagonal=start)
                o = F.scaled_dot_product_attention(q, k, v, attn_mask=visible, enable_gqa=shared)
        return self.output(o.transpose(1, 2).reshape(batch, length, self.num_heads * self.head_dim))


class DecoderLayer(nn.Module):
    """x + Attention(LN(x)), then x + FFN(LN(x)) (pre-norm residual sub-layers)."""

    def __init__(self, config: MQAConfig):
        super().__init__()
        self.norm_attention = nn.LayerNorm(config.d_model)
        self.attention = MultiQueryAttention(config.d_model, config.num_heads, config.kv_heads)
        self.norm_ff = nn.LayerNorm(config.d_model)
        self.feed_forward = nn.Sequential(nn.Linear(config.d_model, config.d_ff), nn.ReLU(),
                                          nn.Linear(config.d_ff, config.d_model))
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x, cache=None, start: int = 0):
        x = x + self.dropout(self.attention(self.norm_attention(x), cache, start))
        return x + self.dropout(self.feed_forward(self.norm_ff(x)))


class MQATransformer(nn.Module):
    """Decoder-only language model: tokens (batch, length) -> next-token logits (batch, length, vocab)."""

    def __init__(self, config: MQAConfig | None = None):
        super().__init__()
        self.config = config = config or MQAConfig()
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        nn.init.normal_(self.embedding.weight, std=config.d_model ** -0.5)
        self.dropout = nn.Dropout(config.dropout)
        self.layers = nn.ModuleList(DecoderLayer(config) for _ in range(config.num_layers))
        self.norm = nn.LayerNorm(config.d_model)

    def _check_tokens(self, tokens) -> None:
        if not torch.is_tensor(tokens) or tokens.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"MQATransformer expects integer token ids of shape (batch, length), got "
                            f"{getattr(tokens, 'dtype', type(tokens).__name__)}")
        if tokens.dim() != 2 or tokens.shape[1] == 0:
            raise ValueError(f"MQATransformer expects tokens of shape (batch, length) with length >= 1, "
                             f"got {tuple(tokens.shape)}")
        # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
        if (not torch.compiler.is_compiling()
                and tokens.numel() and (int(tokens.min()) < 0 or int(tokens.max()) >= self.config.vocab_size)):
            raise ValueError(f"token ids must lie in [0, {self.config.vocab_size}), got "
                             f"[{int(tokens.min())}, {int(tokens.max())}]")

    def _embed(self, tokens: torch.Tensor, start: int) -> torch.Tensor:
        positions = torch.arange(start, start + tokens.shape[1], device=tokens.device)
        scale = math.sqrt(self.config.d_model)
        x = self.embedding(tokens) * scale + sinusoidal_positions(positions, self.config.d_model).to(tokens.device)
        return self.dropout(x)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(self.norm(x), self.embedding.weight)  # tied softmax weights

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        self._check_tokens(tokens)
        x = self._embed(tokens, 0)
        for layer in self.layers:
            x = layer(x)
        return self._logits(x)

    def new_cache(self, batch_size: int, max_len: int) -> KVCache:
        """An empty key/value cache for `batch_size` sequences of up to `max_len` tokens."""
        if batch_size < 1 or max_len < 1:
            raise ValueError(f"batch_size and max_len must be >= 1, got {batch_size}, {max_len}")
        cfg, weight = self.config, self.embedding.weight
        shape = (batch_size, cfg.kv_heads, max_len, cfg.d_model // cfg.num_heads)
        make = lambda: torch.zeros(shape, dtype=weight.dtype, device=weight.device)  # noqa: E731
        return KVCache([make() for _ in self.layers], [make() for _ in self.layers])

    def decode(self, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
        """Logits of `tokens` (batch, length) that follow the cache's positions; the cache grows by length.
        decode(prompt) then decode(next_token) repeatedly gives forward()'s logits without recomputing."""
        self._check_tokens(tokens)
        start, length = cache.length, tokens.shape[1]
        if tokens.shape[0] != cache.keys[0].shape[0]:
            raise ValueError(f"tokens hold {tokens.shape[0]} sequences, the cache {cache.keys[0].shape[0]}")
        if start + length > cache.max_len:
            raise ValueError(f"cache holds {cache.max_len} positions; {start} are used and {length} more were given")
        x = self._embed(tokens, start)
        for layer, keys, values in zip(self.layers, cache.keys, cache.values):
            x = layer(x, (keys, values), start)
        cache.length = start + length
        return self._logits(x)

    @torch.no_grad()
    def generate(self, prompt: torch.Tensor, steps: int) -> torch.Tensor:
        """Greedy incremental decoding: the `steps` tokens (batch, steps) that follow `prompt`."""
        if steps < 1:
            raise ValueError(f"steps must be >= 1, got {steps}")
        cache = self.new_cache(prompt.shape[0], prompt.shape[1] + steps)
        token = self.decode(prompt, cache)[:, -1].argmax(-1, keepdim=True)
        out = [token]
        for _ in range(steps - 1):
            token = self.decode(token, cache)[:, -1].argmax(-1, keepdim=True)
            out.append(token)
        return torch.cat(out, dim=1)
