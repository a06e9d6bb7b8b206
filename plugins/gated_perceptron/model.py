"""The gated perceptron ("More Consideration for the Perceptron", Larabi, 2024,
arXiv:2409.13854): a perceptron with one more input, the product of its inputs.

A plain perceptron computes z = sum_i w_i x_i + b and decides by the sign of z (two classes), so
its decision boundary is a hyperplane and XOR-like data defeat it. The gated perceptron adds the
gated input x_g = prod_i x_i with its own weight w_g:

    z = sum_i w_i x_i + w_g prod_i x_i + b,

so its decision boundary is the surface z = 0, which for two inputs is a hyperbola
w_1 x_1 + w_2 x_2 + w_g x_1 x_2 + b = 0: one unit then separates XOR (z = w_g x_1 x_2 suffices).
For K > 2 classes there is one such unit per class (shared inputs, own weights), and the class is
the largest z_k; for two classes one unit gives the logits (0, z), so that softmax gives
p(class 1) = sigmoid(z) and the decision is the sign of z, exactly the single perceptron.

Training (`criterion`): the task's cross entropy (a sigmoid / softmax unit trained by gradient
descent), or the perceptron criterion mean(max_j z_j - z_y), which is 0 on correctly classified
samples and whose gradient step with batch 1 is Rosenblatt's update w += lr (x on a missed
positive, -x on a missed negative), applied to the gated input like any other input.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import GatedPerceptronConfig

__all__ = ["GatedPerceptron", "gated_inputs", "perceptron_criterion"]


def gated_inputs(x: torch.Tensor) -> torch.Tensor:
    """(batch, d) -> (batch, d + 1): the inputs followed by the gated input prod_i x_i."""
    return torch.cat([x, x.prod(dim=-1, keepdim=True)], dim=-1)


def perceptron_criterion(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """mean(max_j z_j - z_y): zero on correct samples; its gradient is the (multi-class) perceptron rule."""
    return (logits.max(dim=-1).values - logits.gather(-1, target.reshape(-1, 1))[:, 0]).mean()


class GatedPerceptron(nn.Module):
    """One unit (two classes) or one unit per class over (x, prod_i x_i), or over x alone (gate=False)."""

    def __init__(self, config: GatedPerceptronConfig | None = None):
        super().__init__()
        self.config = config = config or GatedPerceptronConfig()
        units = 1 if config.num_classes == 2 else config.num_classes
        self.unit = nn.Linear(config.in_features + int(config.gate), units)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, d) features -> (batch, num_classes) logits."""
        d = self.config.in_features
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"gated-perceptron expects a floating-point tensor of shape (batch, {d}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 2 or x.shape[-1] != d:
            raise ValueError(f"gated-perceptron expects input of shape (batch, {d}), got {tuple(x.shape)}")
        z = self.unit(gated_inputs(x) if self.config.gate else x)
        if self.config.num_classes == 2:  # one unit: logits (0, z), so p(class 1) = sigmoid(z)
            return torch.cat([torch.zeros_like(z), z], dim=-1)
        return z

    @property
    def gate_weight(self) -> torch.Tensor:
        """w_g, the weight(s) of the gated input (one per unit)."""
        if not self.config.gate:
            raise ValueError("this perceptron has no gated input (gate=False)")
        return self.unit.weight[:, -1]

    def training_step(self, batch, step) -> dict:
        """The task's loss (cross-entropy) or the perceptron criterion on the batch, one update."""
        x, y = batch[0], batch[1]
        logits = self(x)
        loss = step.loss(logits, batch) if self.config.criterion == "cross-entropy" else perceptron_criterion(logits, y)
        step.backward(loss)
        step.step()
        return {"loss": loss.detach()}
