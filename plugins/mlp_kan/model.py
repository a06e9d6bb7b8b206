"""MLP-KAN: Unifying Deep Representation and Function Learning (He et al., 2024, arXiv:2410.03027).

A vision transformer whose feed-forward sub-layer is a mixture of experts (MoE) holding both MLP
experts (for representation learning) and KAN experts (for function learning). A router scores
every token against every expert, and the token's output is the weighted sum of the experts it is
sent to, so the data decide which kind of expert does the work, with no manual model choice:

    p(x) = softmax(W_g x)                        router (linear, no bias)
    T    = top-k experts of p(x), w_e = p_e(x) / sum_{e' in T} p_e'(x)
    y    = sum_{e in T} w_e E_e(x)               E_e: MLP expert or KAN expert

As in the authors' code, experts are split half and half: MLP experts dim -> ffn_dim -> dim (timm's
`Mlp`, GELU) and KAN experts [dim, ffn_dim // 2, dim]; k = 2 of 8 experts; the backbone is DeiT-Tiny
(timm's `VisionTransformer`, class token, pre-norm blocks), with the MoE in place of each block's
MLP. Vector inputs (function learning) enter as one token per feature: a [n] vector is read as a
1 x n image with 1 x 1 patches, so each feature gets its own embedding and position.

Departures, and why:
- KAN experts are the zoo's B-spline KAN (`zoo_plugins.kan`, the KAN paper's layer) instead of the
  authors' FasterKAN (RSWAF basis), so that "KAN" means the same function class across the zoo;
  their grid spans [-2, 2] because their inputs are layer-normalised tokens.
- Experts run only on the tokens routed to them (gather, compute, index_add), which is the same
  maths as the authors' loop; `top_k = num_experts` gives the fully soft mixture.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from zoo_plugins.kan.config import KANConfig
from zoo_plugins.kan.model import KAN

from .config import MLPKANConfig

__all__ = ["MLPKAN", "MoEFeedForward"]


class MoEFeedForward(nn.Module):
    """Mixture of MLP and KAN experts with a softmax top-k router: (..., dim) -> (..., dim).

    Built by timm's `Block` through `mlp_layer`; its `hidden_features` is replaced by `ffn_dim`.
    """

    def __init__(self, in_features: int, hidden_features: int | None = None, act_layer=nn.GELU, *,
                 ffn_dim: int, num_experts: int, top_k: int, kan_grid: int, kan_k: int,
                 kan_grid_range: tuple[float, float], **_timm_block_kwargs):
        super().__init__()
        from timm.layers import Mlp

        self.top_k = top_k
        self.router = nn.Linear(in_features, num_experts, bias=False)
        kan_config = KANConfig(width=[in_features, max(1, ffn_dim // 2), in_features], grid=kan_grid, k=kan_k,
                               grid_range=kan_grid_range)
        self.experts = nn.ModuleList(
            [Mlp(in_features, ffn_dim, act_layer=act_layer) for _ in range(num_experts // 2)]
            + [KAN(kan_config) for _ in range(num_experts // 2)])

    def routing(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(weights, experts), each (tokens, top_k): renormalised softmax weights of the chosen experts."""
        probs = torch.softmax(self.router(tokens), dim=-1)
        weights, experts = probs.topk(self.top_k, dim=-1)
        return weights / weights.sum(dim=-1, keepdim=True), experts

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = x.reshape(-1, x.shape[-1])
        weights, chosen = self.routing(tokens)
        out = torch.zeros_like(tokens)
        if torch.compiler.is_compiling():
            # tracing records fixed shapes, not how many tokens chose an expert: every expert runs on
            # every token, and a token that did not choose it weighs its output by 0
            for index, expert in enumerate(self.experts):
                out = out + expert(tokens) * (weights * (chosen == index)).sum(-1, keepdim=True)
            return out.reshape(x.shape)
        for index, expert in enumerate(self.experts):
            token_ids, slot = torch.where(chosen == index)
            if token_ids.numel():
                out.index_add_(0, token_ids, expert(tokens[token_ids]) * weights[token_ids, slot, None])
        return out.reshape(x.shape)


class MLPKAN(nn.Module):
    """Images (batch, C, H, W) or vectors (batch, n) -> (batch, output_dim)."""

    zoo_gradient_exempt = {"vit.blocks.*.mlp.experts.*": "the router sends each token to top_k experts only: an "
                                                         "expert that no token of a batch picked gets no gradient"}

    def __init__(self, config: MLPKANConfig | None = None):
        super().__init__()
        from timm.models.vision_transformer import VisionTransformer

        self.config = config = config or MLPKANConfig()
        if len(config.input_shape) == 3:
            channels, height, width = config.input_shape
            patch = config.patch_size
        else:
            channels, height, width, patch = 1, 1, config.input_shape[0], 1
        moe = partial(MoEFeedForward, ffn_dim=config.ffn_dim, num_experts=config.num_experts, top_k=config.top_k,
                      kan_grid=config.kan_grid, kan_k=config.kan_k, kan_grid_range=tuple(config.kan_grid_range))
        self.vit = VisionTransformer(
            img_size=(height, width), patch_size=patch, in_chans=channels, num_classes=config.output_dim,
            embed_dim=config.embed_dim, depth=config.depth, num_heads=config.num_heads, qkv_bias=True,
            mlp_layer=moe, global_pool="token")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(self.config.input_shape)
        expected = f"(batch, {', '.join(map(str, shape))})"
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"mlp-kan expects a floating-point tensor of shape {expected}, got "
                            f"{x.dtype if torch.is_tensor(x) else type(x).__name__}")
        if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
            raise ValueError(f"mlp-kan expects input of shape {expected}, got {tuple(x.shape)}")
        if len(shape) == 1:
            x = x.reshape(x.shape[0], 1, 1, shape[0])
        return self.vit(x)
