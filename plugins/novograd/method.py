"""NovoGrad (Ginsburg et al., arXiv:1905.11286, Sec. 3): SGD with momentum on gradients normalised by
a layer-wise second moment, with decoupled weight decay, as a torch optimizer and a zoo.Method.

For each layer l (here: each parameter tensor, as the authors' implementations) at step t:

    v_t = beta2 v_{t-1} + (1 - beta2) ||g_t||^2                    (Eq. 2; v_1 = ||g_1||^2, Eq. 6)
    m_t = beta1 m_{t-1} + (g_t / sqrt(v_t + eps) + d w_t)          (Eq. 5; m_1 = g_1 / sqrt(v_1 + eps) + d w_1)
    w_{t+1} = w_t - lr_t m_t                                       (Eq. 7)

Functional core (usable without zoo.train): `novograd_update(w, g, state, ...)` applies the three
equations to one tensor in place; `NovoGrad(params, lr, ...)` is the torch.optim.Optimizer over it.
The Method provides the optimizer (slot "optimizer"): `zoo.train(m, t, optimizer="novograd", lr=...)`.
"""

from __future__ import annotations

import torch

from zoo.config import Field
from zoo.errors import ConfigError
from zoo.training.method import Method, MethodConfig

__all__ = ["NovoGradConfig", "NovoGradMethod", "NovoGrad", "novograd_update"]


# --- functional core --------------------------------------------------------------------------------


@torch.no_grad()
def novograd_update(weight: torch.Tensor, grad: torch.Tensor, state: dict, *, lr: float, beta1: float,
                    beta2: float, weight_decay: float, eps: float) -> None:
    """One NovoGrad step of one layer, in place on `weight` and `state` ({} before the first step,
    then {"v": scalar tensor, "m": tensor like weight})."""
    squared_norm = grad.pow(2).sum()
    if not state:  # Eq. 6: moments initialised from the first gradient, so no bias correction is needed;
        # eps as in Eq. 5, so that a layer whose first gradient is zero (e.g. behind a zero-initialised
        # head) starts with m = d w instead of 0 / 0
        state["v"] = squared_norm.clone()
        state["m"] = grad / (state["v"] + eps).sqrt() + weight_decay * weight
    else:
        state["v"].mul_(beta2).add_(squared_norm, alpha=1.0 - beta2)  # Eq. 2
        normalised = grad / (state["v"] + eps).sqrt()
        state["m"].mul_(beta1).add_(normalised).add_(weight, alpha=weight_decay)  # Eq. 5
    weight.add_(state["m"], alpha=-lr)  # Eq. 7


class NovoGrad(torch.optim.Optimizer):
    """NovoGrad over parameter tensors (each one a "layer" with one scalar second moment)."""

    def __init__(self, params, lr: float = 0.01, betas: tuple[float, float] = (0.95, 0.98),
                 weight_decay: float = 0.002, eps: float = 1e-8):
        if lr <= 0 or not all(0.0 <= b < 1.0 for b in betas) or weight_decay < 0 or eps < 0:
            raise ValueError(f"NovoGrad: lr > 0, 0 <= betas < 1, weight_decay >= 0, eps >= 0; got lr={lr}, "
                             f"betas={betas}, weight_decay={weight_decay}, eps={eps}")
        super().__init__(params, {"lr": lr, "betas": tuple(betas), "weight_decay": weight_decay, "eps": eps})

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            beta1, beta2 = group["betas"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                if p.grad.is_sparse:
                    raise RuntimeError("NovoGrad does not support sparse gradients")
                novograd_update(p, p.grad, self.state[p], lr=group["lr"], beta1=beta1, beta2=beta2,
                                weight_decay=group["weight_decay"], eps=group["eps"])
        return loss


# --- the method in zoo.train ------------------------------------------------------------------------


class NovoGradConfig(MethodConfig):
    """Options of NovoGrad (defaults: the paper's ResNet-50 setting, Sec. 5.1)."""

    beta1: float = Field(0.95, ge=0, lt=1, description="decay of the first moment m (Eq. 5)")
    beta2: float = Field(0.98, ge=0, lt=1, description="decay of the layer-wise second moment v (Eq. 2)")
    weight_decay: float = Field(0.002, ge=0, description="decoupled weight decay d, added to the normalised "
                                                         "gradient inside the first moment (Eq. 5); zoo.train's "
                                                         "weight_decay replaces it when non-zero")
    eps: float = Field(1e-8, ge=0, description="added to v inside the square root (Eq. 5)")


class NovoGradMethod(Method):
    """NovoGrad as the run's optimizer (slot "optimizer"), at zoo.train's lr and schedule."""

    name = "novograd"
    Config = NovoGradConfig

    def build_optimizer(self, params: list, config) -> torch.optim.Optimizer:
        if config.optimizer not in ("novograd", "adamw"):  # adamw: the default, i.e. not chosen
            raise ConfigError(f"method 'novograd' provides the optimizer, but optimizer={config.optimizer!r} was also "
                              f"given; leave optimizer= out (or set it to 'novograd')")
        weight_decay = config.weight_decay if config.weight_decay > 0 else self.config.weight_decay
        return NovoGrad(params, lr=config.lr, betas=(self.config.beta1, self.config.beta2),
                        weight_decay=weight_decay, eps=self.config.eps)
