"""Mono-Forward: the functional core (goodness, the layer-local step) and the update-rule Method
that trains a chain of blocks with it.

Mono-Forward (Gong, Li & Abdulla 2025) trains each layer i alone: its activations a_i are projected
to class scores by its own matrix M_i (C x N_i), the goodness

    G_i = a_i M_i^T,

and W_i and M_i follow the cross-entropy of softmax(G_i) against the label; no gradient passes
between layers. The last layer's goodness is the prediction. Here the model's output part (the
layers after the last cut: for an MLP its final Linear) is the last hidden layer's M_L, so the model
predicts exactly as the paper, and earlier hidden blocks get an M_i owned by the method (used for
training only). Each block is trained as soon as its forward is done (its graph is then freed), so a
step holds one block's saved activations at a time, where backprop holds all of them.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
from torch import nn

from zoo.config import Field
from zoo.errors import ConfigError
from zoo.training.blocks import Cuts, block_sizes, chain_problem, cut_modules
from zoo.training.method import Method, MethodConfig, task_terms

__all__ = ["MonoForwardConfig", "MonoForward", "goodness", "init_projections", "mono_forward_step", "local_cuts"]



def goodness(h: torch.Tensor, projection: torch.Tensor) -> torch.Tensor:
    """G_i = a_i M_i^T: class scores of a block's activations (flattened per sample)."""
    return h.flatten(1) @ projection.T


def init_projections(sizes: list[int], classes: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One M_i of shape (classes, N_i) per block, uniform in +-1/sqrt(N_i) (nn.Linear's default range)."""
    return [(torch.rand(classes, size, generator=generator) * 2 - 1) / math.sqrt(size) for size in sizes]


def local_cuts(model: nn.Module, names: list[str] | None) -> list[nn.Module] | str:
    """The cuts Mono-Forward makes: after every hidden block but the last, which trains together with
    the output part (the output part is its projection M_L)."""
    cuts = cut_modules(model, names)
    return cuts if isinstance(cuts, str) else cuts[:-1]


def mono_forward_step(model: nn.Module, inputs: tuple, cuts: list[nn.Module], projections: list[torch.Tensor],
                      loss_of: Callable[[torch.Tensor], torch.Tensor],
                      backward: Callable[[torch.Tensor], None] = torch.Tensor.backward,
                      on_block: Callable[[int], None] | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One Mono-Forward pass: each cut block's local loss loss_of(G_i) is backpropagated (into W_i and
    M_i only) as soon as the block has run, then the last block's loss on the model's output.
    Returns (output loss, [local losses]), detached; gradients are left for the optimizer.
    on_block(i), if given, is called after block i's forward and before its backward (to measure)."""
    local: list[torch.Tensor] = []

    def train_block(index: int, h: torch.Tensor) -> None:
        if on_block is not None:
            on_block(index)
        if not h.requires_grad and not projections[index].requires_grad:
            return
        loss = loss_of(goodness(h, projections[index]))
        backward(loss)
        local.append(loss.detach())

    with Cuts(cuts, on_output=train_block):
        output = model(*inputs)
    if on_block is not None:
        on_block(len(cuts))
    loss = loss_of(output)
    backward(loss)
    return loss.detach(), local


class MonoForwardConfig(MethodConfig):
    blocks: list[str] | None = Field(None, description="dotted names of the modules that end the hidden blocks, in "
                                                       "forward order (the last trains with the output part, its "
                                                       "projection); None: an nn.Sequential split at each layer "
                                                       "with parameters")
    projection_seed: int | None = Field(None, description="seed of the projection matrices' initialisation; None: the "
                                                          "run's seed")


class MonoForward(Method):
    """Train each block of a chain on its own local cross-entropy of G_i = a_i M_i^T (slot update-rule)."""

    name = "mono-forward"
    Config = MonoForwardConfig
    task_kinds = ("classification",)

    def __init__(self, **options):
        super().__init__(**options)
        self.projections: list[nn.Parameter] = []
        self._cuts: list[nn.Module] = []

    def check(self, model, task) -> str | None:
        return super().check(model, task) or chain_problem(model, task, self.config.blocks)

    def setup(self, run) -> None:
        self._cuts = local_cuts(run.model, self.config.blocks)
        sizes, classes = block_sizes(run.model, self._cuts, run.task, run.device)
        seed = self.config.projection_seed if self.config.projection_seed is not None else run.config.seed
        generator = torch.Generator().manual_seed(seed)
        self.projections = [nn.Parameter(m.to(run.device)) for m in init_projections(sizes, classes, generator)]

    def parameters(self) -> list:
        return list(self.projections)

    def training_step(self, batch, run) -> dict:
        def loss_of(scores):
            return sum(task_terms(run.task, scores, batch).values())

        loss, local = mono_forward_step(run.model, run.task.inputs(batch), self._cuts, self.projections, loss_of,
                                        backward=run.backward)
        run.step()
        return {"loss": loss, **{f"loss/block{i}": value for i, value in enumerate(local)}}

    def end(self, run) -> None:
        self._cuts = []

    def state_dict(self) -> dict:
        return {"projections": [p.detach() for p in self.projections]}

    def load_state_dict(self, state: dict) -> None:
        saved = state["projections"]
        if [tuple(m.shape) for m in saved] != [tuple(p.shape) for p in self.projections]:
            raise ConfigError(f"method 'mono-forward': the checkpoint's projections {[tuple(m.shape) for m in saved]} "
                              f"do not fit this model's blocks {[tuple(p.shape) for p in self.projections]}")
        with torch.no_grad():
            for mine, theirs in zip(self.projections, saved):
                mine.copy_(theirs)
