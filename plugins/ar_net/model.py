"""AR-Net (Triebe, Laptev & Rajagopal, 2019, arXiv:1911.12436): an AR(p) process fitted as a
feed-forward network trained by SGD, with the paper's sparsity regulariser.

Classic-AR predicts the next value from the p last ones (Sec. 3.1),

    y_hat_t = c + sum_{i=1..p} w_i y_{t-i},

and AR-Net is exactly this as one linear layer (Sec. 3.2): its weights ARE the AR coefficients, so
the model is as interpretable as Classic-AR, and its cost per step is linear in p. The input row is
ordered by lag: x[..., i] = y_{t-1-i}, so `weight[i]` is the coefficient of lag i + 1.

Training minimises the MSE plus lambda R(theta) (Sec. 3.3), with

    R(theta) = 1/p sum_i ( 2 / (1 + exp(-c1 |theta_i|^(1/c2))) - 1 ),   c1 = c2 = 3,

a penalty that rises fast near 0 and saturates for large weights, so it pushes small weights to 0
and leaves the true coefficients nearly free; lambda = c_lambda (1 / s_hat - 1) with s_hat the
estimated sparsity (order / p, 1 when the order is known: no regularisation) and c_lambda = 0.02,
the value in the authors' code. As in their code, lambda is not applied from the start: it rises
linearly over the first `reg_ramp` share of training, so that the fit first finds the data.

Departures: the ramp is linear over a share of training (the authors' first code ramps linearly
over its lambda_delay epochs, their later fastai code quadratically up to mid-training); with hidden
layers (the paper's "deeper AR-Net" variant) R(theta) acts on the first layer's weights, as in the
authors' code. Everything else follows the paper.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import ARNetConfig

__all__ = ["ARNet", "sparsity_penalty", "regularization_strength"]


def sparsity_penalty(weight: torch.Tensor, c1: float = 3.0, c2: float = 3.0) -> torch.Tensor:
    """R(theta) of Sec. 3.3: the mean over the weights of 2 / (1 + exp(-c1 |w|^(1/c2))) - 1."""
    return (2.0 / (1.0 + torch.exp(-c1 * weight.abs().pow(1.0 / c2))) - 1.0).mean()


def regularization_strength(sparsity: float, c_lambda: float = 0.02) -> float:
    """lambda = c_lambda (1 / s_hat - 1): 0 when every coefficient is expected to be nonzero."""
    return c_lambda * (1.0 / sparsity - 1.0)


class ARNet(nn.Module):
    """One linear layer over the `lags` last values (or an MLP with `hidden_layers` ReLU layers)."""

    def __init__(self, config: ARNetConfig | None = None):
        super().__init__()
        self.config = config = config or ARNetConfig()
        width = config.hidden_dim or config.lags
        sizes = [config.lags] + [width] * config.hidden_layers + [1]
        self.layers = nn.ModuleList(nn.Linear(a, b, bias=config.bias) for a, b in zip(sizes[:-1], sizes[1:]))
        self.lam = regularization_strength(config.sparsity, config.reg_strength)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, p) lagged values, most recent first -> (batch, 1) forecast of the next value."""
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"AR-Net expects a floating-point tensor of shape (batch, {self.config.lags}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 2 or x.shape[-1] != self.config.lags:
            raise ValueError(f"AR-Net expects input of shape (batch, {self.config.lags}) (the {self.config.lags} "
                             f"last values, lag 1 first), got {tuple(x.shape)}")
        for layer in self.layers[:-1]:
            x = F.relu(layer(x))
        return self.layers[-1](x)

    def coefficients(self) -> torch.Tensor:
        """The AR coefficients w_1..w_p (lag 1 first) of the linear AR-Net."""
        if self.config.hidden_layers:
            raise ValueError(f"coefficients() needs the linear AR-Net (hidden_layers=0), this one has "
                             f"{self.config.hidden_layers} hidden layers")
        return self.layers[0].weight.detach()[0]

    def regularization(self) -> torch.Tensor:
        """R(theta) over the first layer's weights (Sec. 3.3)."""
        return sparsity_penalty(self.layers[0].weight, self.config.reg_c1, self.config.reg_c2)

    def lambda_at(self, progress: float) -> float:
        """lambda after `progress` (0..1) of training: linear rise over the first `reg_ramp`."""
        ramp = self.config.reg_ramp
        return self.lam if ramp == 0 else self.lam * min(1.0, max(0.0, progress) / ramp)

    def training_step(self, batch, step) -> dict:
        """MSE of the next-value forecast plus lambda(progress) R(theta)."""
        x, y = batch[0], batch[1]
        mse = F.mse_loss(self(x), y.reshape(len(y), -1))
        loss, lam = mse, 0.0
        if self.lam > 0:
            lam = self.lambda_at(_progress(step))
            loss = mse + lam * self.regularization()
        step.backward(loss)
        step.step()
        return {"loss": loss.detach(), "mse": mse.detach(), "lambda": lam}


def _progress(step) -> float:
    """Share of training done at this batch, from the run's epoch and batch index."""
    epochs = max(1, getattr(step.config, "epochs", 1))
    try:
        batches = math.ceil(len(step.task.splits()["train"]) / step.config.batch_size)
    except Exception:  # noqa: BLE001 - a task without a sized train split: count whole epochs
        batches = 0
    within = step.batch_index / batches if batches else 0.0
    return (step.epoch + within) / epochs
