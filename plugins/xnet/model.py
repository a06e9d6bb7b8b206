"""XNet, the Cauchy-activation network of "Model Comparisons: XNet Outperforms KAN"
(Li, Xia & Zheng, 2024, arXiv:2410.02033), introduced in "Cauchy activation function and XNet"
(Li, Xia & Zhang, 2024, arXiv:2409.19221).

A hidden neuron k computes z_k = w_k . x + b_k and applies its own Cauchy activation

    phi_k(z) = lambda1_k * z / (z^2 + d_k^2) + lambda2_k / (z^2 + d_k^2)

with trainable lambda1_k, lambda2_k and d_k: the real and imaginary parts of a Cauchy kernel
1 / (z - i d), i.e. a discretised Cauchy integral whose nodes and weights are learned. The output
is a linear combination of the hidden neurons. The paper's XNet has one hidden layer; more hidden
widths stack the same block (as in the deep variants of arXiv:2409.19221).

Source of the activation's form: the summary of arXiv:2410.02033 at sciencestack.ai
(phi(x) = lambda1 x / (x^2 + d^2) + lambda2 / (x^2 + d^2)), consistent with the Cauchy-kernel
derivation above and with the paper's statement that the activation decays at both ends.

Initialisation: the papers state none that we could read. By default (`init="spread"`) the first
hidden layer is laid out like the nodes of a discretised Cauchy integral: neuron k gets a random
unit-norm direction w_k and the bias that puts its node (w_k . x = c_k) at c_k, the N values c_k
equally spaced over `init_range`, with d equal to their spacing (range length / N); lambda1 =
lambda2 = 1. `init="constant"` is PyTorch's default Linear initialisation with d = `init_d` (1 when
unset). Deeper hidden layers always use the latter.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import XNetConfig

__all__ = ["CauchyActivation", "XNet", "spread_nodes"]


class CauchyActivation(nn.Module):
    """phi(z) = (lambda1 * z + lambda2) / (z^2 + d^2), one (lambda1, lambda2, d) per feature."""

    def __init__(self, features: int, lambda1: float = 1.0, lambda2: float = 1.0, d: float = 1.0):
        super().__init__()
        self.lambda1 = nn.Parameter(torch.full((features,), float(lambda1)))
        self.lambda2 = nn.Parameter(torch.full((features,), float(lambda2)))
        self.d = nn.Parameter(torch.full((features,), float(d)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.lambda1 * z + self.lambda2) / (z * z + self.d * self.d)


def spread_nodes(linear: nn.Linear, activation: CauchyActivation, low: float, high: float,
                 d: float | None) -> None:
    """Unit-norm random directions, nodes w.x = c equally spaced over [low, high] (one node: the
    middle), and d = the spacing (range length / N) unless `d` is given."""
    n = linear.out_features
    with torch.no_grad():
        direction = torch.randn(n, linear.in_features)
        if linear.in_features == 1:  # a sign flip would mirror a node onto another one's place
            direction = direction.abs()
        linear.weight.copy_(direction / direction.norm(dim=1, keepdim=True).clamp_min(1e-12))
        centres = torch.linspace(low, high, n) if n > 1 else torch.tensor([(low + high) / 2])
        linear.bias.copy_(-centres)
        activation.d.fill_((high - low) / n if d is None else d)


class XNet(nn.Module):
    """Linear -> Cauchy activation blocks for each hidden width, then a linear read-out."""

    def __init__(self, config: XNetConfig | None = None):
        super().__init__()
        self.config = config = config or XNetConfig()
        blocks = []
        for n_in, n_out in zip(config.width[:-2], config.width[1:-1]):
            d = 1.0 if config.init_d is None else config.init_d
            blocks += [nn.Linear(n_in, n_out), CauchyActivation(n_out, config.init_lambda1, config.init_lambda2, d)]
        self.hidden = nn.Sequential(*blocks)
        self.readout = nn.Linear(config.width[-2], config.width[-1])
        if config.init == "spread":
            spread_nodes(self.hidden[0], self.hidden[1], *config.init_range, config.init_d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[-1] != self.config.width[0]:
            raise ValueError(f"XNet expects input of shape (batch, {self.config.width[0]}), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"XNet expects a floating-point input, got {x.dtype}")
        return self.readout(self.hidden(x))
