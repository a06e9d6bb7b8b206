"""The k-sparse autoencoder of Makhzani & Frey (2013, arXiv:1312.5663), Algorithm 1.

Training (Algorithm 1, "Training"):

    1) z = W^T x + b                                  (linear, no activation)
    2) Gamma = supp_k(z): the k largest entries of z; z_(Gamma^c) = 0
    3) x_hat = W z + b',  E = ||x - x_hat||_2^2       (tied weights: the decoder is W)
    4) backpropagate E through the k kept units only (the zeros carry no gradient)

with the paper's k schedule: k starts large (`k_start`, the paper's 100) and falls linearly to k
over the first `schedule_fraction` of the epochs (the paper: the first half), so that every hidden unit is
picked early on and none dies.

Encoding (Algorithm 1, "Sparse encoding"): h = W^T x + b, keep the alpha*k largest entries (alpha = 3 on
MNIST) and zero the rest; these are the features a linear classifier reads.

Here W is stored as `weight` of shape (hidden, inputs), so z = F.linear(x, weight, b) and the decoder is
F.linear(z, weight.T, b'); the input is flattened, and the reconstruction gets the input's shape back.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import KSparseAEConfig

__all__ = ["KSparseAutoencoder", "keep_top_k", "scheduled_k"]


def keep_top_k(z: torch.Tensor, k: int) -> torch.Tensor:
    """z with all but its k largest entries (last dim) set to 0: step 2 of Algorithm 1. The gradient
    flows to the kept entries only, as step 4 asks."""
    k = min(int(k), z.shape[-1])
    values, indices = z.topk(k, dim=-1)
    return torch.zeros_like(z).scatter(-1, indices, values)


def scheduled_k(k: int, k_start: int, hidden: int, epoch: int, epochs: int, fraction: float) -> int:
    """The k used in `epoch` (0-based) of `epochs`: k_start (at most `hidden`) falling linearly to k over the
    first `fraction` of the epochs, then k."""
    start = min(k_start, hidden)
    ramp = fraction * epochs
    if ramp <= 0 or epoch >= ramp:
        return k
    return int(round(start - (start - k) * epoch / ramp))


class KSparseAutoencoder(nn.Module):
    """Tied-weight linear autoencoder whose hidden code keeps only its k largest activations."""

    def __init__(self, config: KSparseAEConfig | None = None):
        super().__init__()
        self.config = config = config or KSparseAEConfig()
        self.in_features = 1
        for size in config.input_shape:
            self.in_features *= size
        self.weight = nn.Parameter(torch.randn(config.hidden_dim, self.in_features) * config.init_std)  # W^T
        self.hidden_bias = nn.Parameter(torch.zeros(config.hidden_dim))  # b
        self.visible_bias = nn.Parameter(torch.zeros(self.in_features))  # b'

    def _flat(self, x: torch.Tensor) -> torch.Tensor:
        shape = tuple(self.config.input_shape)
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"k-sparse-ae expects a floating-point tensor of shape (batch, {', '.join(map(str, shape))}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != len(shape) + 1 or tuple(x.shape[1:]) != shape:
            if not (x.dim() == 2 and x.shape[1] == self.in_features):
                raise ValueError(f"k-sparse-ae expects input of shape (batch, {', '.join(map(str, shape))}) or "
                                 f"(batch, {self.in_features}), got {tuple(x.shape)}")
        return x.reshape(x.shape[0], self.in_features)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """z = W^T x + b (step 1): the linear hidden activations, before any unit is dropped."""
        return F.linear(self._flat(x), self.weight, self.hidden_bias)

    def decode(self, code: torch.Tensor) -> torch.Tensor:
        """x_hat = W z + b' (step 3), flat."""
        return F.linear(code, self.weight.t(), self.visible_bias)

    def reconstruct(self, x: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """Steps 1-3 with support size k (default: the config's k), shaped like x."""
        code = keep_top_k(self.hidden(x), self.config.k if k is None else k)
        return self.decode(code).reshape(x.shape)

    def encode(self, x: torch.Tensor, alpha: float | None = None) -> torch.Tensor:
        """Sparse encoding: the alpha*k largest hidden activations, the rest 0 (the features)."""
        alpha = self.config.alpha if alpha is None else alpha
        return keep_top_k(self.hidden(x), max(1, int(round(alpha * self.config.k))))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.reconstruct(x)

    def training_step(self, batch, step) -> dict:
        """Algorithm 1 on one batch, with the k of this epoch; E summed over pixels, averaged over the batch."""
        x = step.task.inputs(batch)[0]
        cfg = self.config
        k = scheduled_k(cfg.k, cfg.k_start, cfg.hidden_dim, step.epoch, step.config.epochs, cfg.schedule_fraction)
        self.last_k = k  # the support size of the latest update, for inspection
        x_hat = self.reconstruct(x, k)
        loss = (x_hat - x).pow(2).reshape(x.shape[0], -1).sum(-1).mean()
        step.backward(loss)
        step.step()
        return {"loss": loss, "k": float(k)}
