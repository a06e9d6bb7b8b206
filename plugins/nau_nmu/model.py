"""The Neural Addition Unit, the Neural Multiplication Unit (Madsen & Johansen, 2020, arXiv:2001.05016),
the NALU they are compared with (Trask et al., 2018, arXiv:1808.00508), and the two-layer network of the
paper's arithmetic dataset task, trained with the sparsity regulariser and weight clamping."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ArithmeticConfig

__all__ = ["NAU", "NMU", "NALU", "ArithmeticNet", "sparsity_weight", "nau", "nmu", "nalu"]


# The units as functions of their weights. Any leading axes of x and of the weights broadcast against each
# other, so the same code runs one layer (x (batch, in), W (out, in)) or many independent copies side by side
# (x (copies, batch, in), W (copies, out, in)), as the reproduction does for its seeds.


def nau(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """NAU: z = W x."""
    return x @ weight.transpose(-1, -2)


def nmu(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """NMU: z_j = prod_i (W_ij x_i + 1 - W_ij)."""
    w = weight.unsqueeze(-3)  # (..., 1, out, in) against x (..., batch, 1, in)
    return (x.unsqueeze(-2) * w + 1.0 - w).prod(-1)


def nalu(x: torch.Tensor, w_hat: torch.Tensor, m_hat: torch.Tensor, gate: torch.Tensor, eps: float) -> torch.Tensor:
    """NALU: W = tanh(W_hat) sigmoid(M_hat); g sigmoid(G x) * W x + (1 - g) * exp(W log(|x| + eps))."""
    w = (torch.tanh(w_hat) * torch.sigmoid(m_hat)).transpose(-1, -2)
    g = torch.sigmoid(x @ gate.transpose(-1, -2))
    return g * (x @ w) + (1.0 - g) * torch.exp(torch.log(x.abs() + eps) @ w)


class NAU(nn.Module):
    """Neural Addition Unit (Sec. 2.3): z = W x with W in [-1, 1], pushed to {-1, 0, 1} by R_sparse.

    Initialisation (Sec. 2.3, from its analysis of the gradient): E[W] = 0, Var[W] = 2 / (in + out), drawn
    uniformly on [-r, r], r = min(1/2, sqrt(3 Var[W])) so no weight starts nearer +-1 than 0.
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        std = math.sqrt(2.0 / (self.in_features + self.out_features))
        r = min(0.5, math.sqrt(3.0) * std)
        nn.init.uniform_(self.weight, -r, r)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nau(x, self.weight)

    @torch.no_grad()
    def clamp_(self) -> None:
        """Keep W in [-1, 1] (done after every optimizer step)."""
        self.weight.clamp_(-1.0, 1.0)

    def sparsity(self) -> torch.Tensor:
        """R_sparse of this layer: mean over W of min(|W|, 1 - |W|), 0 exactly at {-1, 0, 1}."""
        w = self.weight.abs()
        return torch.minimum(w, 1.0 - w).mean()


class NMU(nn.Module):
    """Neural Multiplication Unit (Sec. 2.4): z_j = prod_i (W_ij x_i + 1 - W_ij), W in [0, 1].

    W_ij = 1 multiplies x_i in, W_ij = 0 leaves the factor 1 (x_i ignored). Initialisation (Sec. 2.4):
    E[W] = 1/2 (no bias toward either end) with the variance capped to fit [0, 1]: uniform on [1/4, 3/4].
    """

    def __init__(self, in_features: int, out_features: int):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.weight, 0.25, 0.75)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nmu(x, self.weight)

    @torch.no_grad()
    def clamp_(self) -> None:
        """Keep W in [0, 1] (done after every optimizer step)."""
        self.weight.clamp_(0.0, 1.0)

    def sparsity(self) -> torch.Tensor:
        """R_sparse of this layer: mean over W of min(W, 1 - W), 0 exactly at {0, 1}."""
        return torch.minimum(self.weight, 1.0 - self.weight).mean()


class NALU(nn.Module):
    """Neural Arithmetic Logic Unit (Trask et al., 2018), the paper's baseline:
    W = tanh(W_hat) * sigmoid(M_hat); a = W x; m = exp(W log(|x| + eps)); g = sigmoid(G x);
    y = g * a + (1 - g) * m. W is shared by the additive and the multiplicative path, as in the
    original NALU; all three matrices start Glorot-uniform."""

    def __init__(self, in_features: int, out_features: int, eps: float = 1e-7):
        super().__init__()
        self.in_features, self.out_features, self.eps = in_features, out_features, eps
        self.w_hat = nn.Parameter(torch.empty(out_features, in_features))
        self.m_hat = nn.Parameter(torch.empty(out_features, in_features))
        self.gate = nn.Parameter(torch.empty(out_features, in_features))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for p in (self.w_hat, self.m_hat, self.gate):
            nn.init.xavier_uniform_(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nalu(x, self.w_hat, self.m_hat, self.gate, self.eps)

    def clamp_(self) -> None:
        """NALU has no constrained weights."""

    def sparsity(self) -> torch.Tensor:
        """NALU has no sparsity regulariser in the paper's comparison."""
        return self.w_hat.new_zeros(())


def sparsity_weight(step: int, scale: float, start: int, end: int) -> float:
    """lambda_sparse at optimizer step t: lambda_hat * max(min((t - start) / (end - start), 1), 0) (Sec. 2.3)."""
    return scale * max(min((step - start) / (end - start), 1.0), 0.0)


def _layer(kind: str, in_features: int, out_features: int, eps: float) -> nn.Module:
    if kind == "nau":
        return NAU(in_features, out_features)
    if kind == "nmu":
        return NMU(in_features, out_features)
    return NALU(in_features, out_features, eps)


class ArithmeticNet(nn.Module):
    """The arithmetic dataset task's network (Sec. 4.1): x (batch, in) -> first layer (hidden) -> second
    layer (out). NAU then NMU learns a * b; NAU then NAU learns a + b and a - b; NALU then NALU is the
    baseline. Trains itself (`training_step`): MSE + lambda_sparse(t) * R_sparse with Adam, then clamps W."""

    def __init__(self, config: ArithmeticConfig):
        super().__init__()
        self.config = config
        self.first = _layer(config.first, config.in_features, config.hidden_features, config.nalu_eps)
        self.second = _layer(config.second, config.hidden_features, config.out_features, config.nalu_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            raise TypeError(f"expected a floating-point tensor of shape (batch, {self.config.in_features}), got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 2 or x.shape[1] != self.config.in_features:
            raise ValueError(f"expected input of shape (batch, {self.config.in_features}), got {tuple(x.shape)}")
        return self.second(self.first(x))

    def sparsity(self) -> torch.Tensor:
        """R_sparse summed over the two layers."""
        return self.first.sparsity() + self.second.sparsity()

    def regularizer_weight(self, step: int) -> float:
        c = self.config
        return sparsity_weight(step, c.sparsity_scale, c.sparsity_start, c.sparsity_end)

    @torch.no_grad()
    def clamp_weights_(self) -> None:
        self.first.clamp_()
        self.second.clamp_()

    def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
        return {"main": torch.optim.Adam(self.parameters(), lr=lr)}  # the paper trains with Adam

    def training_step(self, batch, step) -> dict[str, float]:
        x, y = batch[0], batch[1]
        mse = F.mse_loss(self(x), y)
        lam = self.regularizer_weight(step.global_step)
        loss = mse + lam * self.sparsity() if lam > 0 else mse
        step.zero_grad()
        step.backward(loss)
        step.step()
        self.clamp_weights_()
        return {"loss": float(mse.detach()), "lambda_sparse": lam}
