"""NoProp-DT's training: every block learns, on its own, to denoise a noisy label embedding, with the
loss of Li, Teh & Pascanu (2025, Eq. 8), as the `noprop` update rule on a `noprop-dt` network.

    noprop_loss(model, x, y, eta)   the NoProp-DT objective on one batch, and its parts:
        E_q(z_T|y)[-log p(y | z_T)]                                  the classifier term
      + D_KL(q(z_0 | y) || p(z_0))                                   the prior term
      + (T/2) eta E_{t ~ U{1..T}} (SNR(t) - SNR(t-1)) |û_t(z_{t-1}, x) - u_y|^2    the denoising terms

Block t reads a sample z_{t-1} ~ q(z_{t-1} | y) drawn afresh from the label, never the output of
block t-1, so no activation or gradient passes from one block to another: each block's parameters
receive only the gradient of its own term (the expectation over t is taken exactly, as the sum over
the blocks / T, which trains every block on every batch). The class embeddings W_Embed and the
classifier are shared and learn from every term, as in the paper's Algorithm 1.
"""

from __future__ import annotations

import torch

from zoo import Field
from zoo.training.method import Method, MethodConfig

from .model import NoPropNet, block_loss_weight, classifier_loss, kl_to_prior

__all__ = ["noprop_loss", "NoPropConfigOptions", "NoProp"]


def noprop_loss(model: NoPropNet, x: torch.Tensor, y: torch.Tensor, eta: float) -> tuple[torch.Tensor, dict]:
    """(loss, {"classifier", "kl", "denoise/<t>"}) of the NoProp-DT objective on a batch. The noise is
    drawn from torch's global generator."""
    u = model.embedding[y]
    parts = {"classifier": classifier_loss(model, u, y), "kl": kl_to_prior(model, u)}
    for t, block in enumerate(model.blocks, start=1):
        z_prev = model.noisy_embedding(u, t - 1)
        guess = block(x, z_prev, model.embedding)
        parts[f"denoise/{t}"] = block_loss_weight(model, t, eta) * (guess - u).square().sum(dim=1).mean()
    return torch.stack(list(parts.values())).sum(), parts


class NoPropConfigOptions(MethodConfig):
    eta: float = Field(0.1, gt=0.0, description="eta, the weight of the denoising terms (the paper's 0.1 for NoProp-DT)")


class NoProp(Method):
    """The NoProp-DT update rule: one optimizer step on the NoProp loss per batch, in which every
    block is trained independently on its own noisy input (no forward or backward pass through the
    stack). Needs a `noprop-dt` network (zoo.create("noprop-dt", task=...))."""

    name = "noprop"
    Config = NoPropConfigOptions
    task_kinds = ("classification",)

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        if not isinstance(model, NoPropNet):
            return ("a NoProp network of denoising blocks, class embeddings and a classifier "
                    "(zoo.create('noprop-dt', task=...)); the model is a " + type(model).__name__)
        classes = getattr(getattr(task, "info", None), "num_classes", None)
        if classes is not None and classes != model.config.num_classes:
            return f"a network sized for {classes} classes (it has {model.config.num_classes})"
        return None

    def training_step(self, batch, run) -> dict:
        (x,), y = run.task.inputs(batch), run.task.targets(batch)
        loss, parts = noprop_loss(run.model, x, y, self.config.eta)
        run.backward(loss)
        run.step()
        return {"loss": loss.detach(), **{k: v.detach() for k, v in parts.items()}}
