"""PowerNorm (Shen et al., 2020, arXiv:2003.07845, Algorithm 1) and a transformer encoder classifier
whose normalisation is PowerNorm, LayerNorm or BatchNorm.

PowerNorm over a batch of B rows x_i in R^d (every token of every sequence is a row), per feature:

  forward, training (Algorithm 1, forward):
    psi_B^2 = 1/B sum_i x_i^2                           batch quadratic mean: no mean subtraction
    x^_i    = x_i / psi_{t-1}                           normalise by the RUNNING quadratic mean
    y_i     = gamma * x^_i + beta
    psi_t^2 = alpha psi_{t-1}^2 + (1 - alpha) psi_B^2   update the running statistic
  backward (Algorithm 1, backward: the approximate backpropagation through the running statistic):
    g^_i    = gamma * dL/dy_i
    dL/dx_i = (g^_i - nu_{t-1} x^_i) / psi_{t-1}
    nu_t    = nu_{t-1} (1 - (1 - alpha) Gamma_t) + (1 - alpha) Lambda_t,
              Gamma_t = 1/B sum_i x^_i^2,  Lambda_t = 1/B sum_i g^_i x^_i
  inference: y = gamma * x / psi + beta with the running psi.

psi^2 is kept with eps added (psi = sqrt(psi^2 + eps)). For the first `warmup_iters` training steps
the layer normalises by the batch statistic psi_B instead, with the exact gradient of x / psi_B
(dL/dx_i = (g^_i - Lambda_t x^_i) / psi_B: the paper's PN-V: BatchNorm without mean
subtraction, on batch statistics), while psi^2 and
nu are already updated; the authors' code warms up the same way.

`PowerNormFunction` is the autograd function of one training step; `PowerNorm` holds gamma, beta
and the running psi^2 and nu as buffers. `TokenBatchNorm` is BatchNorm over the same rows (the
paper's BN baseline) and `EncoderClassifier` the transformer: input embedding plus sinusoidal
positions, `num_layers` encoder layers (multi-head self-attention through torch's
scaled_dot_product_attention, ReLU feed-forward, residuals, the selected norm after each sublayer:
post-norm as in the paper's transformers, or pre-norm), and a linear head per position or on the
mean over positions.

Departures from the paper: no padding mask (the zoo's sequence tasks have none; the paper's
MaskPowerNorm leaves padded tokens out of the statistics); no extra per-token scaling before the
norm (the authors' code divides each token by the root mean square of its features, "group
scaling", which Algorithm 1 does not state; we follow Algorithm 1).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import PowerNormTransformerConfig

__all__ = ["PowerNormFunction", "PowerNorm", "TokenBatchNorm", "EncoderLayer", "EncoderClassifier"]


class PowerNormFunction(torch.autograd.Function):
    """One training step of Algorithm 1 on rows x (B, d): returns y; updates psi2 and (in backward) nu
    in place. With `batch_stats` (warmup) it normalises by psi_B with the exact gradient instead."""

    @staticmethod
    def forward(ctx, x, gamma, beta, psi2, nu, alpha_fwd: float, alpha_bkw: float, eps: float, batch_stats: bool):
        batch_psi2 = x.square().mean(dim=0)
        scale = (batch_psi2 + eps).rsqrt() if batch_stats else (psi2 + eps).rsqrt()
        x_hat = x * scale
        psi2.mul_(alpha_fwd).add_((1.0 - alpha_fwd) * batch_psi2.detach())
        ctx.save_for_backward(x_hat, scale, gamma, nu)
        ctx.alpha_bkw, ctx.batch_stats = alpha_bkw, batch_stats
        return x_hat * gamma + beta

    @staticmethod
    def backward(ctx, grad_y):
        x_hat, scale, gamma, nu = ctx.saved_tensors
        g_hat = grad_y * gamma
        lam = (g_hat * x_hat).mean(dim=0)  # Lambda_t
        if ctx.batch_stats:  # exact gradient of x / psi_B
            grad_x = (g_hat - lam * x_hat) * scale
        else:  # Algorithm 1: the running psi_{t-1} and the running gradient statistic nu_{t-1}
            grad_x = (g_hat - nu * x_hat) * scale
        gam = x_hat.square().mean(dim=0)  # Gamma_t
        a = 1.0 - ctx.alpha_bkw
        nu.mul_(1.0 - a * gam).add_(a * lam)
        return grad_x, (grad_y * x_hat).sum(dim=0), grad_y.sum(dim=0), None, None, None, None, None, None


class PowerNorm(nn.Module):
    """Power Normalization over the last dimension; every other dimension is the batch of rows."""

    def __init__(self, num_features: int, alpha_fwd: float = 0.9, alpha_bkw: float = 0.9, eps: float = 1e-5,
                 warmup_iters: int = 4000):
        super().__init__()
        self.num_features, self.alpha_fwd, self.alpha_bkw = num_features, alpha_fwd, alpha_bkw
        self.eps, self.warmup_iters = eps, warmup_iters
        self.weight = nn.Parameter(torch.ones(num_features))  # gamma
        self.bias = nn.Parameter(torch.zeros(num_features))  # beta
        self.register_buffer("running_psi2", torch.ones(num_features))
        self.register_buffer("running_nu", torch.zeros(num_features))
        self.register_buffer("steps", torch.zeros((), dtype=torch.long))

    def extra_repr(self) -> str:
        return (f"{self.num_features}, alpha_fwd={self.alpha_fwd}, alpha_bkw={self.alpha_bkw}, eps={self.eps}, "
                f"warmup_iters={self.warmup_iters}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.num_features:
            raise ValueError(f"PowerNorm({self.num_features}) expects inputs (..., {self.num_features}), "
                             f"got {tuple(x.shape)}")
        if not self.training:
            return x * (self.running_psi2 + self.eps).rsqrt() * self.weight + self.bias
        batch_stats = int(self.steps) < self.warmup_iters
        self.steps += 1
        rows = x.reshape(-1, self.num_features)
        y = PowerNormFunction.apply(rows, self.weight, self.bias, self.running_psi2, self.running_nu,
                                    self.alpha_fwd, self.alpha_bkw, self.eps, batch_stats)
        return y.reshape(x.shape)


class TokenBatchNorm(nn.BatchNorm1d):
    """BatchNorm1d over every token of the batch: (..., d) normalised per feature over all other dims."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def make_norm(config: PowerNormTransformerConfig) -> nn.Module:
    d = config.d_model
    if config.norm == "powernorm":
        return PowerNorm(d, config.alpha_fwd, config.alpha_bkw, config.eps, config.warmup_iters)
    if config.norm == "batchnorm":
        return TokenBatchNorm(d, eps=config.eps)
    return nn.LayerNorm(d, eps=config.eps)


class EncoderLayer(nn.Module):
    """Self-attention and feed-forward sublayers, each with dropout, a residual and the selected norm."""

    def __init__(self, config: PowerNormTransformerConfig):
        super().__init__()
        d = config.d_model
        self.heads, self.dropout, self.norm_first = config.num_heads, config.dropout, config.norm_first
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ffn = nn.Sequential(nn.Linear(d, config.ffn_dim), nn.ReLU(), nn.Linear(config.ffn_dim, d))
        self.norm_attention, self.norm_ffn = make_norm(config), make_norm(config)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        mixed = F.scaled_dot_product_attention(q, k, v, dropout_p=self.dropout if self.training else 0.0)
        return self.out(mixed.transpose(1, 2).reshape(b, n, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        drop = lambda h: F.dropout(h, self.dropout, self.training)  # noqa: E731
        if self.norm_first:
            x = x + drop(self.attention(self.norm_attention(x)))
            return x + drop(self.ffn(self.norm_ffn(x)))
        x = self.norm_attention(x + drop(self.attention(x)))
        return self.norm_ffn(x + drop(self.ffn(x)))


def sinusoidal_positions(length: int, d: int) -> torch.Tensor:
    """The transformer's fixed position encodings: sin on even, cos on odd features."""
    position = torch.arange(length, dtype=torch.float32)[:, None]
    frequency = torch.exp(torch.arange(0, d, 2, dtype=torch.float32) * (-math.log(10000.0) / d))
    table = torch.zeros(length, d)
    table[:, 0::2] = torch.sin(position * frequency)
    table[:, 1::2] = torch.cos(position * frequency[: d // 2])
    return table


class EncoderClassifier(nn.Module):
    """Transformer encoder classifier: tokens (batch, length) or values (batch, length, in_features)
    -> logits (batch, length, classes) per position, or (batch, classes) per sequence."""

    def __init__(self, config: PowerNormTransformerConfig):
        super().__init__()
        self.config = config
        d = config.d_model
        self.embed = nn.Embedding(config.vocab_size, d) if config.vocab_size else nn.Linear(config.in_features, d)
        self.register_buffer("positions", sinusoidal_positions(config.max_len, d), persistent=False)
        self.layers = nn.ModuleList(EncoderLayer(config) for _ in range(config.num_layers))
        self.final_norm = make_norm(config) if config.norm_first else nn.Identity()
        self.head = nn.Linear(d, config.num_classes)

    def check_inputs(self, x: torch.Tensor) -> None:
        c = self.config
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"powernorm expects a tensor, got {type(x).__name__}")
        if c.vocab_size:
            if x.dtype not in (torch.int64, torch.int32, torch.int16, torch.uint8) or x.dim() != 2:
                raise TypeError(f"powernorm with vocab_size={c.vocab_size} expects integer tokens (batch, length), "
                                f"got {tuple(x.shape)} of dtype {x.dtype}")
            if x.numel() and (int(x.min()) < 0 or int(x.max()) >= c.vocab_size):
                raise ValueError(f"tokens must lie in [0, {c.vocab_size}), got values in [{int(x.min())}, "
                                 f"{int(x.max())}]")
        else:
            if not x.is_floating_point():
                raise TypeError(f"powernorm expects real values (batch, length, {c.in_features}), got dtype {x.dtype}")
            if x.dim() != 3 or x.shape[-1] != c.in_features:
                raise ValueError(f"powernorm expects inputs (batch, length, {c.in_features}), got {tuple(x.shape)}")
        if x.shape[1] > c.max_len or x.shape[1] < 1:
            raise ValueError(f"sequence length {x.shape[1]} must be in [1, max_len={c.max_len}]")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_inputs(x)
        h = self.embed(x.long() if self.config.vocab_size else x) + self.positions[: x.shape[1]]
        h = F.dropout(h, self.config.dropout, self.training)
        for layer in self.layers:
            h = layer(h)
        h = self.final_norm(h)
        return self.head(h if self.config.per_position else h.mean(dim=1))
