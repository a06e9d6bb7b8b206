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

Departures from the paper: the initial values of lambda1, lambda2 and d are config fields
(default 1.0 each; we could not read the paper's choice), and the linear layers use PyTorch's
default initialisation.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import XNetConfig

__all__ = ["CauchyActivation", "XNet"]


class CauchyActivation(nn.Module):
    """phi(z) = (lambda1 * z + lambda2) / (z^2 + d^2), one (lambda1, lambda2, d) per feature."""

    def __init__(self, features: int, lambda1: float = 1.0, lambda2: float = 1.0, d: float = 1.0):
        super().__init__()
        self.lambda1 = nn.Parameter(torch.full((features,), float(lambda1)))
        self.lambda2 = nn.Parameter(torch.full((features,), float(lambda2)))
        self.d = nn.Parameter(torch.full((features,), float(d)))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return (self.lambda1 * z + self.lambda2) / (z * z + self.d * self.d)


class XNet(nn.Module):
    """Linear -> Cauchy activation blocks for each hidden width, then a linear read-out."""

    def __init__(self, config: XNetConfig | None = None):
        super().__init__()
        self.config = config = config or XNetConfig()
        blocks = []
        for n_in, n_out in zip(config.width[:-2], config.width[1:-1]):
            blocks += [nn.Linear(n_in, n_out),
                       CauchyActivation(n_out, config.init_lambda1, config.init_lambda2, config.init_d)]
        self.hidden = nn.Sequential(*blocks)
        self.readout = nn.Linear(config.width[-2], config.width[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 2 or x.shape[-1] != self.config.width[0]:
            raise ValueError(f"XNet expects input of shape (batch, {self.config.width[0]}), got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise TypeError(f"XNet expects a floating-point input, got {x.dtype}")
        return self.readout(self.hidden(x))
