"""Kolmogorov-Arnold Attention (Maity, Hitsman, Li & Dutta, 2025, arXiv:2503.10632): Fourier-KArAt.

A vanilla ViT computes, per head, A = softmax(Q K^T / sqrt(d)) row by row: a fixed map from a row
of N scores to N weights. KArAt makes that map learnable, as a KAN layer from R^N to R^N:
Phi(a)_p = sum_q phi_pq(a_q). The full N x N operator is too costly, so the paper's modular
version is low-rank: a KAN layer Phi_hat: R^N -> R^r followed by a learned linear W in R^{N x r}
back to the N tokens,

    A_i = W Phi_hat(s_i),    Phi_hat(s)_p = sum_q sum_{g=1..G} a_pqg cos(g s_q) + b_pqg sin(g s_q)

with the Fourier basis of grid size G (Fourier-KArAt). Each row is then divided by its l1 norm,
taking softmax's role of scaling the weights, and the output is A V as usual. Operators are per
head; "blockwise" gives every block its own, "universal" shares one set across all blocks.

Everything else is timm's `VisionTransformer` unchanged (patch embedding, class token, pre-norm
blocks, MLPs, head): after building it, each block's attention keeps timm's own q/k/v and output
projections and only the softmax is replaced by the learnable operator.

Departures, and why:
- Fourier coefficients start as N(0, 1 / (N G)) (the FourierKAN initialisation the paper's layer
  builds on) and W as Xavier-uniform; the paper does not pin these down.
- Fixed-size inputs only: the operator is defined over the N tokens of the configured image size.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import KArAtConfig

__all__ = ["KArAtViT", "KArAtAttention", "FourierKArAtOperator", "vit_kwargs"]


def vit_kwargs(config: KArAtConfig) -> dict:
    """Arguments of timm's VisionTransformer for this config: the same model with softmax attention."""
    channels, height, width = config.input_shape
    return dict(img_size=(height, width), patch_size=config.patch_size, in_chans=channels,
                num_classes=config.num_classes, embed_dim=config.embed_dim, depth=config.depth,
                num_heads=config.num_heads, mlp_ratio=config.mlp_ratio, qkv_bias=True, global_pool="token")


class FourierKArAtOperator(nn.Module):
    """Learnable row map of attention scores: (batch, heads, N, N) -> (batch, heads, N, N)."""

    def __init__(self, num_tokens: int, num_heads: int, grid: int, rank: int, row_norm: str = "l1"):
        super().__init__()
        self.num_tokens, self.grid, self.row_norm = num_tokens, grid, row_norm
        # coefficients of the KAN layer R^N -> R^r, per head: (heads, N * 2G, r); cos terms then sin terms
        self.coef = nn.Parameter(torch.randn(num_heads, num_tokens * 2 * grid, rank) / math.sqrt(num_tokens * grid))
        self.projection = nn.Parameter(torch.empty(num_heads, rank, num_tokens))  # W^T, per head
        for head in self.projection:
            nn.init.xavier_uniform_(head)
        self.register_buffer("frequencies", torch.arange(1, grid + 1, dtype=torch.float32), persistent=False)

    def forward(self, scores: torch.Tensor) -> torch.Tensor:
        batch, heads, rows, cols = scores.shape
        if cols != self.num_tokens:
            raise ValueError(f"Fourier-KArAt was built for {self.num_tokens} tokens, got attention scores over {cols}")
        angles = scores.unsqueeze(-1) * self.frequencies  # (batch, heads, N, N, G)
        basis = torch.cat([angles.cos(), angles.sin()], dim=-1).reshape(batch, heads, rows, -1)
        attention = (basis @ self.coef.unsqueeze(0)) @ self.projection.unsqueeze(0)  # (batch, heads, N, N)
        if self.row_norm == "l1":
            attention = attention / attention.abs().sum(dim=-1, keepdim=True).clamp_min(1e-6)
        return attention


class KArAtAttention(nn.Module):
    """timm's multi-head self-attention with its softmax replaced by a Fourier-KArAt operator.

    Takes over the projections (qkv, q/k norms, output projection, dropouts) of a built timm
    `Attention`, so the rest of the ViT is exactly timm's.
    """

    def __init__(self, attention: nn.Module, operator: FourierKArAtOperator):
        super().__init__()
        if getattr(attention, "gate", None) is not None:
            raise ValueError("KArAt replaces the softmax of ungated timm attention; this attention is gated")
        self.num_heads, self.head_dim, self.scale = attention.num_heads, attention.head_dim, attention.scale
        self.attn_dim = attention.attn_dim
        self.qkv, self.q_norm, self.k_norm = attention.qkv, attention.q_norm, attention.k_norm
        self.attn_drop, self.norm, self.proj, self.proj_drop = (attention.attn_drop, attention.norm,
                                                                attention.proj, attention.proj_drop)
        self.operator = operator

    def forward(self, x: torch.Tensor, attn_mask: torch.Tensor | None = None, is_causal: bool = False) -> torch.Tensor:
        if attn_mask is not None or is_causal:
            raise ValueError("Fourier-KArAt attention is bidirectional over all tokens; masks are not supported")
        batch, tokens, _ = x.shape
        qkv = self.qkv(x).reshape(batch, tokens, 3, self.num_heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        q, k = self.q_norm(q), self.k_norm(k)
        attention = self.attn_drop(self.operator((q * self.scale) @ k.transpose(-2, -1)))
        x = (attention @ v).transpose(1, 2).reshape(batch, tokens, self.attn_dim)
        return self.proj_drop(self.proj(self.norm(x)))


class KArAtViT(nn.Module):
    """Images (batch, C, H, W) -> class logits (batch, num_classes)."""

    def __init__(self, config: KArAtConfig | None = None):
        super().__init__()
        from timm.models.vision_transformer import VisionTransformer

        self.config = config = config or KArAtConfig()
        self.vit = VisionTransformer(**vit_kwargs(config))
        num_tokens = self.vit.patch_embed.num_patches + self.vit.num_prefix_tokens

        def operator() -> FourierKArAtOperator:
            return FourierKArAtOperator(num_tokens, config.num_heads, config.grid, config.rank, config.row_norm)

        shared = operator() if config.mode == "universal" else None
        for block in self.vit.blocks:
            block.attn = KArAtAttention(block.attn, shared or operator())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(self.config.input_shape)
        expected = f"(batch, {', '.join(map(str, shape))})"
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"karat expects a floating-point tensor of shape {expected}, got "
                            f"{x.dtype if torch.is_tensor(x) else type(x).__name__}")
        if x.dim() != 4 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"karat expects input of shape {expected}, got {tuple(x.shape)}")
        return self.vit(x)
