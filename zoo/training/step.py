"""StepContext: the state of one training run, given to a model's own `training_step(batch, step)`
and to callbacks (as `run`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from ..errors import ConfigError, UnknownNameError

__all__ = ["StepContext"]


@dataclass
class StepContext:
    """What a model that trains itself needs, and where the run stands.

    A `training_step` does its whole update with it, e.g. a GAN:

        def training_step(self, batch, step):
            d_loss = ...
            step.backward(d_loss); step.step("discriminator")
            g_loss = ...
            step.backward(g_loss); step.step("generator")
            return {"loss": g_loss + d_loss, "d_loss": d_loss, "g_loss": g_loss}

    task: the Task being trained on. model: the model itself (not a distributed wrapper).
    optimizers / schedulers: by name ("main" unless the model's configure_optimizers names them).
    accelerator: the Hugging Face Accelerator (device, precision, processes).
    epoch, batch_index: 0-based position; global_step: optimizer steps taken so far.
    history: per-epoch metrics so far. should_stop: set True to end training.
    """

    task: Any
    model: torch.nn.Module
    optimizers: dict[str, torch.optim.Optimizer]
    schedulers: dict[str, Any]
    accelerator: Any
    config: Any
    out_dir: Path | None = None
    epoch: int = 0
    batch_index: int = 0
    global_step: int = 0
    history: list[dict] = field(default_factory=list)
    should_stop: bool = False
    _average_gradients: bool = False  # a model outside DDP on several processes: average grads ourselves

    @property
    def device(self) -> torch.device:
        return self.accelerator.device

    def backward(self, loss: torch.Tensor, **kwargs) -> None:
        """Backpropagate `loss` (scaled for fp16 and gradient accumulation by Accelerate)."""
        self.accelerator.backward(loss, **kwargs)

    def autocast(self):
        """Context for the forward pass under the run's mixed precision (already active around
        `training_step`; useful in callbacks)."""
        return self.accelerator.autocast()

    def _optimizer(self, name: str | None) -> tuple[str, torch.optim.Optimizer]:
        if name is None:
            if len(self.optimizers) != 1:
                raise ConfigError(f"this model has optimizers {sorted(self.optimizers)}: name the one to step")
            name = next(iter(self.optimizers))
        if not isinstance(name, str) or name not in self.optimizers:
            raise UnknownNameError(f"no optimizer named {name!r}; configure_optimizers gave {sorted(self.optimizers)}")
        return name, self.optimizers[name]

    def step(self, name: str | None = None) -> None:
        """Update the parameters of optimizer `name` from their gradients, then clear them, and
        advance its LR schedule. With gradient accumulation the update waits for the last micro-batch."""
        name, optimizer = self._optimizer(name)
        average = self._average_gradients and self.accelerator.num_processes > 1
        if self.accelerator.sync_gradients and (average or self.config.clip_grad_norm is not None):
            params = [p for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
            if average:
                from accelerate.utils import reduce

                for p in params:
                    p.grad.copy_(reduce(p.grad, reduction="mean"))
            if self.config.clip_grad_norm is not None and params:
                self.accelerator.clip_grad_norm_(params, self.config.clip_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        scheduler = self.schedulers.get(name)
        if scheduler is not None and self.accelerator.sync_gradients and not getattr(optimizer, "step_was_skipped", False):
            scheduler.step()

    def zero_grad(self, name: str | None = None) -> None:
        self._optimizer(name)[1].zero_grad(set_to_none=True)

    def loss(self, output, batch) -> torch.Tensor:
        """The task's loss of an output on a batch."""
        return self.task.loss(output, batch)
