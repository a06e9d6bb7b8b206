"""Annealed Gaussian gradient noise (Neelakantan et al., 2015, Eq. 1): g_t <- g_t + N(0, sigma_t^2)
with sigma_t^2 = eta / (1 + t)^gamma, as plain functions and as a zoo.Method.

Functional core (usable without zoo.train):

    sigma = noise_std(step, eta=0.01, gamma=0.55)                 # sqrt(eta / (1 + t)^gamma)
    add_gradient_noise(model.parameters(), step, eta=0.01, gamma=0.55, generator=g)

The Method binds it to zoo.train at `after_backward` (gradients complete, optimizer not stepped),
so it composes with any optimizer (SGD in the paper) and with the loop's gradient clipping, which
acts after it. The noise comes from a torch.Generator the method owns and checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import torch

from zoo.config import Field
from zoo.training.method import Method, MethodConfig

__all__ = ["GradientNoiseConfig", "GradientNoise", "noise_variance", "noise_std", "add_gradient_noise"]


# --- functional core --------------------------------------------------------------------------------


def noise_variance(step: int, eta: float, gamma: float = 0.55) -> float:
    """sigma_t^2 = eta / (1 + t)^gamma (Eq. 2), t = the optimizer steps taken before this one."""
    return eta / (1.0 + step) ** gamma


def noise_std(step: int, eta: float, gamma: float = 0.55) -> float:
    """sigma_t, the standard deviation of the noise added to every gradient entry at step t."""
    return math.sqrt(noise_variance(step, eta, gamma))


@torch.no_grad()
def add_gradient_noise(parameters: Iterable[torch.Tensor], step: int, eta: float, gamma: float = 0.55,
                       generator: torch.Generator | None = None) -> float:
    """Add N(0, sigma_t^2) noise, independent per entry, to the `.grad` of every parameter that has
    one (Eq. 1), in place; returns sigma_t. Parameters without a gradient (frozen, unused) are left
    alone. The draws come from `generator` (the global RNG when None), in parameter order."""
    sigma = noise_std(step, eta, gamma)
    for p in parameters:
        if p.grad is None:
            continue
        noise = torch.randn(p.grad.shape, generator=generator, device=p.grad.device, dtype=p.grad.dtype)
        p.grad.add_(noise, alpha=sigma)
    return sigma


# --- the method in zoo.train ------------------------------------------------------------------------


class GradientNoiseConfig(MethodConfig):
    """Options of annealed gradient noise (defaults: Sec. 2 of the paper)."""

    eta: float = Field(0.01, ge=0, description="eta of sigma_t^2 = eta / (1 + t)^gamma; the paper picks it from "
                                               "{0.01, 0.3, 1.0} (0.01: its smallest value)")
    gamma: float = Field(0.55, ge=0, description="decay exponent gamma of the noise variance (0.55 in all the "
                                                 "paper's experiments)")
    seed: int | None = Field(None, ge=0, le=2**63 - 1,
                             description="seed of the method's own noise generator (None: the run's seed)")


class GradientNoise(Method):
    """Adds annealed Gaussian noise N(0, eta / (1 + t)^gamma) to every gradient at optimizer step t
    (Neelakantan et al., 2015), before the optimizer steps and before the loop clips gradients."""

    name = "gradient-noise"
    Config = GradientNoiseConfig

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        if not any(p.requires_grad and p.is_floating_point() for p in model.parameters()):
            return "trainable floating-point parameters (their gradients get the noise)"
        return None

    def setup(self, run) -> None:
        seed = run.config.seed if self.config.seed is None else self.config.seed
        self.generator = torch.Generator(device=run.device)
        self.generator.manual_seed(seed)
        self.parameters_with_noise = [p for p in run.model.parameters() if p.requires_grad]
        # t of Eq. 2, counted here and checkpointed: the run's global_step reads 0 after a resume
        # until the first resumed step ends
        self.step = 0
        self.last_sigma = 0.0

    def after_backward(self, run) -> None:
        # with gradient accumulation the gradients are complete only on the last micro-batch: noise
        # is added once per optimizer step, as the paper adds it once per update
        if not run.accelerator.sync_gradients:
            return
        self.last_sigma = add_gradient_noise(self.parameters_with_noise, self.step, self.config.eta,
                                             self.config.gamma, self.generator)
        self.step += 1

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state(), "step": self.step, "last_sigma": self.last_sigma}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.step = int(state["step"])
        self.last_sigma = float(state["last_sigma"])
