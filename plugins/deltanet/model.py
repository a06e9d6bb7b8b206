"""DeltaNet (Yang, Wang, Zhang, Shen & Kim, 2024, arXiv:2406.06484): linear attention whose state is
updated by the delta rule, computed by the paper's chunkwise parallel algorithm.

The recurrence (Eq. 1-2 of the paper, with the state stored transposed, S of shape (d_k, d_v), so
that o_t = S_t^T q_t):

    S_t = S_{t-1} + k_t (beta_t (v_t - S_{t-1}^T k_t))^T = (I - beta_t k_t k_t^T) S_{t-1} + beta_t k_t v_t^T

`delta_rule_recurrent` runs it token by token. `delta_rule_chunked` is the paper's Sec. 3: within a
chunk of C positions the products of the Householder-like matrices (I - beta_t k_t k_t^T) are kept in
the WY form, whose factors come from one triangular solve (the UT transform, Eq. 8-11):

    T = (I + tril(diag(beta) K K^T, -1))^{-1} diag(beta),   W = T K,   U = T V,

then, chunk after chunk, with S the state entering the chunk (Eq. 12-13):

    U' = U - W S                          (the chunk's "pseudo-values")
    O  = Q S + (Q K^T masked causally, diagonal included) U'
    S <- S + K^T U'

so the sequential work over the sequence is one (C x d) matmul per chunk instead of one state update
per token. The additive linear attention of the baseline (Katharopoulos et al., 2020) is the same
code with U' = V: S_t = S_{t-1} + k_t v_t^T (`linear_attention_recurrent`, `linear_attention_chunked`).

The token mixer (`DeltaNetMixer`) follows the paper's Sec. 4 architecture: q, k, v projections, a
short causal depthwise convolution (size 4) and SiLU, L2-normalised q and k, beta = sigmoid(W_beta x)
per head, a per-head RMSNorm of the output, and an output projection. The network is a Llama-style
stack of pre-RMSNorm blocks (mixer, then SwiGLU MLP), an embedding and an LM head.

Departures: no query scaling by d_k^-1/2 (the paper's o_t = S_t q_t; the per-head output norm makes a
scale immaterial); plain torch (the paper's speed comes from Triton kernels on GPUs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import DeltaNetConfig

__all__ = ["delta_rule_recurrent", "delta_rule_chunked", "linear_attention_recurrent", "linear_attention_chunked",
           "DeltaNetMixer", "DeltaNet"]


def _check_qkv(q, k, v, beta=None) -> None:
    if q.dim() != 4 or k.shape != q.shape or v.shape[:3] != q.shape[:3]:
        raise ValueError(f"expected q, k of shape (batch, heads, length, d_k) and v of shape (batch, heads, length, "
                         f"d_v), got {tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}")
    if beta is not None and beta.shape != q.shape[:3]:
        raise ValueError(f"expected beta of shape (batch, heads, length) = {tuple(q.shape[:3])}, got {tuple(beta.shape)}")


def _initial_state(q, v, state):
    if state is None:
        return q.new_zeros(*q.shape[:2], q.shape[-1], v.shape[-1])
    return state


def delta_rule_recurrent(q, k, v, beta, state=None):
    """Token-by-token delta rule. q, k: (batch, heads, length, d_k); v: (..., d_v); beta: (batch, heads,
    length); state: (batch, heads, d_k, d_v) or None. Returns outputs (batch, heads, length, d_v) and the
    final state."""
    _check_qkv(q, k, v, beta)
    S = _initial_state(q, v, state)
    outputs = []
    for t in range(q.shape[2]):
        k_t, v_t, q_t = k[:, :, t], v[:, :, t], q[:, :, t]
        error = v_t - torch.einsum("bhkv,bhk->bhv", S, k_t)  # v_t - S_{t-1}^T k_t
        S = S + torch.einsum("bhk,bhv->bhkv", k_t, beta[:, :, t, None] * error)
        outputs.append(torch.einsum("bhkv,bhk->bhv", S, q_t))
    return torch.stack(outputs, dim=2), S


def linear_attention_recurrent(q, k, v, state=None):
    """Token-by-token additive linear attention S_t = S_{t-1} + k_t v_t^T, o_t = S_t^T q_t."""
    _check_qkv(q, k, v)
    S = _initial_state(q, v, state)
    outputs = []
    for t in range(q.shape[2]):
        S = S + torch.einsum("bhk,bhv->bhkv", k[:, :, t], v[:, :, t])
        outputs.append(torch.einsum("bhkv,bhk->bhv", S, q[:, :, t]))
    return torch.stack(outputs, dim=2), S


def _chunks(x: torch.Tensor, size: int) -> torch.Tensor:
    """(batch, heads, length, ...) -> (batch, heads, chunks, size, ...), zero-padded at the end."""
    length = x.shape[2]
    pad = (-length) % size
    if pad:
        x = F.pad(x, (0, 0) * (x.dim() - 3) + (0, pad))
    return x.reshape(*x.shape[:2], -1, size, *x.shape[3:])


def _chunked(q, k, v, beta, chunk_size: int, state):
    """The chunkwise form; beta None gives additive linear attention. Zero-padded positions (k = v = 0,
    beta = 0) leave the state unchanged, so any length works."""
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}")
    length = q.shape[2]
    S = _initial_state(q, v, state)
    Q, K, V = _chunks(q, chunk_size), _chunks(k, chunk_size), _chunks(v, chunk_size)
    size = Q.shape[3]
    causal = torch.ones(size, size, dtype=torch.bool, device=q.device).tril()
    if beta is not None:
        B = _chunks(beta.unsqueeze(-1), chunk_size)  # (batch, heads, chunks, size, 1)
        # UT transform, all chunks at once: (I + tril(diag(beta) K K^T, -1)) T = diag(beta)
        A = (B * K @ K.transpose(-1, -2)).tril(-1)
        eye = torch.eye(size, dtype=q.dtype, device=q.device)
        T = torch.linalg.solve_triangular(eye + A, torch.diag_embed(B.squeeze(-1)), upper=False,
                                          unitriangular=True)
        W, U = T @ K, T @ V
    scores = (Q @ K.transpose(-1, -2)).masked_fill(~causal, 0.0)  # Q K^T, causal with the diagonal
    outputs = []
    for c in range(Q.shape[2]):
        values = V[:, :, c] if beta is None else U[:, :, c] - W[:, :, c] @ S  # U' = U - W S
        outputs.append(Q[:, :, c] @ S + scores[:, :, c] @ values)
        S = S + K[:, :, c].transpose(-1, -2) @ values
    out = torch.stack(outputs, dim=2).reshape(*q.shape[:2], -1, v.shape[-1])[:, :, :length]
    return out, S


def delta_rule_chunked(q, k, v, beta, chunk_size: int = 64, state=None):
    """The delta rule by the paper's chunkwise parallel algorithm (WY/UT form); same arguments and
    results as `delta_rule_recurrent`."""
    _check_qkv(q, k, v, beta)
    return _chunked(q, k, v, beta, chunk_size, state)


def linear_attention_chunked(q, k, v, chunk_size: int = 64, state=None):
    """Additive linear attention, chunkwise; same results as `linear_attention_recurrent`."""
    _check_qkv(q, k, v)
    return _chunked(q, k, v, None, chunk_size, state)


class ShortConvolution(nn.Module):
    """Causal depthwise convolution over positions, then SiLU: (batch, length, channels) -> same."""

    def __init__(self, channels: int, size: int):
        super().__init__()
        self.size = size
        self.conv = nn.Conv1d(channels, channels, size, groups=channels, padding=size - 1, bias=False)

    def forward(self, x):
        length = x.shape[1]
        return F.silu(self.conv(x.transpose(1, 2))[..., :length].transpose(1, 2))


class DeltaNetMixer(nn.Module):
    """The DeltaNet token mixer: (batch, length, d_model) -> (batch, length, d_model)."""

    def __init__(self, config: DeltaNetConfig):
        super().__init__()
        d, self.heads = config.d_model, config.num_heads
        self.head_dim = d // config.num_heads
        self.delta, self.chunk_size = config.attention == "delta", config.chunk_size
        self.query, self.key, self.value = (nn.Linear(d, d, bias=False) for _ in range(3))
        self.beta = nn.Linear(d, config.num_heads, bias=False) if self.delta else None  # W_beta
        if config.conv_size:
            self.convolutions = nn.ModuleList(ShortConvolution(d, config.conv_size) for _ in range(3))
        else:
            self.convolutions = None
        self.output_norm = nn.RMSNorm(self.head_dim, eps=1e-5)
        self.output = nn.Linear(d, d, bias=False)

    def _heads(self, x):
        batch, length, _ = x.shape
        return x.view(batch, length, self.heads, self.head_dim).transpose(1, 2)

    def qkv_beta(self, x):
        """Per-head q, k (SiLU, then L2-normalised), v (SiLU) and beta in (0, 1), (batch, heads, length, ...)."""
        q, k, v = self.query(x), self.key(x), self.value(x)
        if self.convolutions is not None:
            q, k, v = (conv(t) for conv, t in zip(self.convolutions, (q, k, v)))
        else:
            q, k, v = F.silu(q), F.silu(k), F.silu(v)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)
        q, k = F.normalize(q, dim=-1), F.normalize(k, dim=-1)
        beta = torch.sigmoid(self.beta(x)).transpose(1, 2) if self.delta else None
        return q, k, v, beta

    def forward(self, x, recurrent: bool = False):
        q, k, v, beta = self.qkv_beta(x)
        if self.delta:
            o, _ = (delta_rule_recurrent(q, k, v, beta) if recurrent
                    else delta_rule_chunked(q, k, v, beta, self.chunk_size))
        else:
            o, _ = (linear_attention_recurrent(q, k, v) if recurrent
                    else linear_attention_chunked(q, k, v, self.chunk_size))
        o = self.output_norm(o).transpose(1, 2).reshape(x.shape)
        return self.output(o)


class SwiGLU(nn.Module):
    def __init__(self, d_model: int, hidden: int):
        super().__init__()
        self.gate_up = nn.Linear(d_model, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, d_model, bias=False)

    def forward(self, x):
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    """x + Mixer(RMSNorm(x)), then x + SwiGLU(RMSNorm(x))."""

    def __init__(self, config: DeltaNetConfig):
        super().__init__()
        self.norm_mixer = nn.RMSNorm(config.d_model, eps=1e-5)
        self.mixer = DeltaNetMixer(config)
        self.norm_mlp = nn.RMSNorm(config.d_model, eps=1e-5)
        self.mlp = SwiGLU(config.d_model, max(1, int(2 * config.mlp_ratio * config.d_model / 3)))

    def forward(self, x, recurrent: bool = False):
        x = x + self.mixer(self.norm_mixer(x), recurrent)
        return x + self.mlp(self.norm_mlp(x))


class DeltaNet(nn.Module):
    """DeltaNet language model: tokens (batch, length) -> next-token logits (batch, length, vocab)."""

    def __init__(self, config: DeltaNetConfig | None = None):
        super().__init__()
        self.config = config = config or DeltaNetConfig()
        self.embedding = nn.Embedding(config.vocab_size, config.d_model)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.num_layers))
        self.norm = nn.RMSNorm(config.d_model, eps=1e-5)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)

    def forward(self, tokens: torch.Tensor, recurrent: bool = False) -> torch.Tensor:
        """recurrent=True runs every mixer token by token (same result, slower)."""
        if not torch.is_tensor(tokens) or tokens.dtype not in (torch.int64, torch.int32):
            raise TypeError(f"DeltaNet expects integer token ids of shape (batch, length), got "
                            f"{getattr(tokens, 'dtype', type(tokens).__name__)}")
        if tokens.dim() != 2 or tokens.shape[1] == 0:
            raise ValueError(f"DeltaNet expects tokens of shape (batch, length) with length >= 1, got "
                             f"{tuple(tokens.shape)}")
        # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
        if (not torch.compiler.is_compiling()
                and (int(tokens.min()) < 0 or int(tokens.max()) >= self.config.vocab_size)):
            raise ValueError(f"token ids must lie in [0, {self.config.vocab_size}), got "
                             f"[{int(tokens.min())}, {int(tokens.max())}]")
        x = self.embedding(tokens)
        for block in self.blocks:
            x = block(x, recurrent)
        return self.head(self.norm(x))
