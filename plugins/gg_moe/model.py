"""GG MoE (Chernov, 2025, arXiv:2502.03608): a mixture of experts with a Gumbel-Softmax gate, after
a numerical embedding layer, as a replacement for the MLP on tabular data.

The features x (d numbers) are embedded feature by feature (rtdl_num_embeddings; linear + ReLU by
default) and flattened to e(x). K experts E_k and a linear gate read e(x):

    y(x) = sum_k g_k(x) E_k(e(x)),      h(x) = W_g e(x) + b_g   (gate logits).

Standard MoE: g(x) = softmax(h(x)). GG MoE: the gate is a Gumbel-Softmax sample,

    g(x) = softmax((h(x) + G) / tau),   G_k ~ Gumbel(0, 1) i.i.d.,

drawn afresh for every sample at each training step (a regulariser that makes the gate explore
the experts); at evaluation the output is the Monte Carlo mean over `mc_samples` draws of the
gate, y = sum_k (1/S sum_s g_k^(s)) E_k, since y is linear in g. The evaluation draws come from a
generator with a fixed seed, so a trained model's predictions are reproducible.

Departures (the simplest reading where the abstract leaves a detail open): each expert is one
linear layer by default (`expert_dim` > 0 gives one-hidden-layer experts); the embedding layer is
per-feature linear + ReLU (periodic embeddings as an option); the gate is dense (every expert
contributes), without top-k routing.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import GGMoEConfig

__all__ = ["GGMoE", "gumbel_softmax_gate", "EVAL_SEED"]

EVAL_SEED = 0  # generator seed of the evaluation-time gate draws


def gumbel_softmax_gate(logits: torch.Tensor, temperature: float, samples: int = 1,
                        generator: torch.Generator | None = None) -> torch.Tensor:
    """Mean over `samples` draws of softmax((logits + G) / tau), G ~ Gumbel(0, 1): (batch, K)."""
    uniform = torch.rand((samples, *logits.shape), generator=generator, device=logits.device, dtype=logits.dtype)
    gumbel = -torch.log(-torch.log(uniform.clamp(1e-10, 1.0 - 1e-7)))
    return torch.softmax((logits + gumbel) / temperature, dim=-1).mean(0)


def _embedding(config: GGMoEConfig) -> nn.Module:
    import rtdl_num_embeddings as rtdl

    if config.embedding == "linear-relu":
        return rtdl.LinearReLUEmbeddings(config.d_in, config.d_embedding)
    return rtdl.PeriodicEmbeddings(config.d_in, config.d_embedding, lite=False)


class GGMoE(nn.Module):
    """(batch, d_in) features -> (batch, d_out) logits or predictions."""

    def __init__(self, config: GGMoEConfig | None = None):
        super().__init__()
        self.config = config = config or GGMoEConfig()
        self.embed = None if config.embedding == "none" else _embedding(config)
        width = config.d_in * (1 if self.embed is None else config.d_embedding)
        k, h = config.num_experts, config.expert_dim
        self.gate = nn.Linear(width, k)
        # the K experts as batched weights: (K, in, out) matrices applied with one einsum
        self.first = nn.Parameter(torch.empty(k, width, h or config.d_out))
        self.first_bias = nn.Parameter(torch.zeros(k, h or config.d_out))
        self.second = nn.Parameter(torch.empty(k, h, config.d_out)) if h else None
        self.second_bias = nn.Parameter(torch.zeros(k, config.d_out)) if h else None
        self.dropout = nn.Dropout(config.dropout)
        for weight in (self.first, self.second):
            if weight is not None:  # each expert like nn.Linear's default: U(-1/sqrt(in), 1/sqrt(in))
                bound = weight.shape[1] ** -0.5
                nn.init.uniform_(weight, -bound, bound)

    def experts(self, e: torch.Tensor) -> torch.Tensor:
        """(batch, width) embedded features -> (batch, K, d_out) expert outputs."""
        out = torch.einsum("bi,kio->bko", e, self.first) + self.first_bias
        if self.second is not None:
            out = torch.einsum("bki,kio->bko", self.dropout(torch.relu(out)), self.second) + self.second_bias
        return out

    def gate_weights(self, e: torch.Tensor) -> torch.Tensor:
        """(batch, K) mixture weights: softmax, one Gumbel-Softmax draw (training) or the mean of mc_samples."""
        logits = self.gate(e)
        config = self.config
        if config.gating == "softmax" or (not self.training and config.mc_samples == 0):
            return torch.softmax(logits / config.temperature, dim=-1)
        if self.training:
            return gumbel_softmax_gate(logits, config.temperature)
        generator = torch.Generator(device=logits.device).manual_seed(EVAL_SEED)
        return gumbel_softmax_gate(logits, config.temperature, config.mc_samples, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.config.d_in
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"gg-moe expects floating-point features of shape (batch, {d}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 2 or x.shape[-1] != d:
            raise ValueError(f"gg-moe expects features of shape (batch, {d}), got {tuple(x.shape)}")
        e = x if self.embed is None else self.embed(x).flatten(1)
        return torch.einsum("bk,bko->bo", self.gate_weights(e), self.experts(e))
