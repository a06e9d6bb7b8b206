"""Direct Feedback Alignment: the functional core (feedback matrices, the DFA objective) and the
update-rule Method that trains a chain of blocks with it.

DFA (Nokland 2016, Eq. 3; Launay et al. 2020, Eq. 2) replaces the backpropagated gradient of each
hidden block l by the global output error e = dLoss/d(output) sent through a fixed random matrix B_l:

    delta a_l = (B_l e) * f'(a_l),        dW_l = -delta a_l h_{l-1}^T,

while the last block gets the true gradient (its delta is e). Here a block's output h_l receives
B_l e as its gradient; autograd inside the block turns it into (B_l e) * f'(a_l) and the weight
update, exactly the rule above for a (linear, activation) block, and the paper's "macro" DFA (the
signal at each block's output, backprop inside the block) for a transformer block. Every block runs
on the detached output of the one before, so no gradient crosses blocks.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from zoo.config import Field
from zoo.errors import ConfigError
from zoo.training.blocks import Cuts, block_sizes, chain_problem, cut_modules, probe_batch
from zoo.training.method import Method, MethodConfig, task_terms

__all__ = ["DFAConfig", "DirectFeedbackAlignment", "feedback_matrices", "project_error", "dfa_objective"]



def feedback_matrices(sizes: list[int], output_size: int, generator: torch.Generator) -> list[torch.Tensor]:
    """One fixed random B_l of shape (d_l, E) per hidden block, entries N(0, 1/E) (Gaussian as Launay
    et al.; the 1/E variance keeps ||B_l e|| near ||e|| per unit and matters little under Adam)."""
    return [torch.randn(size, output_size, generator=generator) / output_size ** 0.5 for size in sizes]


def project_error(error: torch.Tensor, feedback: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """B_l e for a batch: the output error (N, ...) flattened per sample, projected, shaped as h_l.

    A B_l with one row per feature of the last axis (d_l, E), for h_l shaped (N, positions..., d_l),
    is shared by every position: B_l e is given to each position, scaled by 1/sqrt(positions) so that
    the block's whole signal keeps the norm of one projection (Launay et al.'s transformers treat
    token positions as batch dimensions, and so receive the same feedback at every position)."""
    projected = error.flatten(1) @ feedback.T
    if projected.shape[1] == shape[1:].numel():
        return projected.reshape(shape)
    positions = shape[1:-1].numel()
    return (projected / positions ** 0.5).reshape(shape[0], *[1] * (len(shape) - 2), shape[-1]).expand(shape)


def dfa_objective(model: nn.Module, inputs: tuple, cuts: list[nn.Module], feedback: list[torch.Tensor],
                  loss_of: Callable[[torch.Tensor], torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """(task loss, DFA surrogate) of one batch. The model runs cut after each hidden block (the blocks
    above see its output detached). The surrogate's gradient is the DFA update: the loss's own gradient
    for the output part, and for hidden block l the projected error B_l e injected at its output h_l,
    through sum_l <h_l, B_l e> with e held constant."""
    with Cuts(cuts) as cut:
        output = model(*inputs)
    loss = loss_of(output)
    error = torch.autograd.grad(loss, output, retain_graph=True)[0].detach()  # e = dLoss/d(output)
    surrogate = loss
    for h, b in zip(cut.outputs, feedback):
        if h.requires_grad:  # a block whose parameters are all frozen has nothing to update
            surrogate = surrogate + (h * project_error(error, b, h.shape)).sum()
    return loss, surrogate


def feature_sizes(model: nn.Module, modules: list[nn.Module], task, device) -> tuple[list[int], int]:
    """(size of the last axis of each hidden block's output, numel per sample of the model's output),
    from a no-grad eval forward on two training samples: the rows of position-shared feedback."""
    inputs = task.inputs(probe_batch(task, device))
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), Cuts(modules) as cuts:
            output = model(*inputs)
    finally:
        model.train(was_training)
    return [h.shape[-1] for h in cuts.outputs], output[0].numel()


class DFAConfig(MethodConfig):
    blocks: list[str] | None = Field(None, description="dotted names of the modules that end the hidden blocks, in "
                                                       "forward order (what follows the last is the output part); "
                                                       "None: an nn.Sequential split at each layer with parameters")
    shared_positions: bool = Field(False, description="hidden outputs shaped (N, positions, d): one B_l of shape (d, E) "
                                                      "shared by every position (token positions as batch dimensions, "
                                                      "as Launay et al.'s transformers); False: one feedback row per "
                                                      "unit of h_l")
    feedback_seed: int | None = Field(None, description="seed of the fixed random feedback matrices B_l; None: the "
                                                        "run's seed")


class DirectFeedbackAlignment(Method):
    """Train a chain of blocks with direct feedback alignment instead of backprop (slot update-rule)."""

    name = "dfa"
    Config = DFAConfig

    def __init__(self, **options):
        super().__init__(**options)
        self.feedback: list[torch.Tensor] = []
        self._cuts: list[nn.Module] = []

    def check(self, model, task) -> str | None:
        return super().check(model, task) or chain_problem(model, task, self.config.blocks)

    def setup(self, run) -> None:
        self._cuts = cut_modules(run.model, self.config.blocks)
        if self.config.shared_positions:
            sizes, output_size = feature_sizes(run.model, self._cuts, run.task, run.device)
        else:
            sizes, output_size = block_sizes(run.model, self._cuts, run.task, run.device)
        seed = self.config.feedback_seed if self.config.feedback_seed is not None else run.config.seed
        generator = torch.Generator().manual_seed(seed)
        self.feedback = [b.to(run.device) for b in feedback_matrices(sizes, output_size, generator)]

    def training_step(self, batch, run) -> dict:
        def loss_of(output):
            return sum(task_terms(run.task, output, batch).values())

        loss, surrogate = dfa_objective(run.model, run.task.inputs(batch), self._cuts, self.feedback, loss_of)
        run.backward(surrogate)
        run.step()
        return {"loss": loss.detach()}

    def end(self, run) -> None:
        self._cuts = []

    def state_dict(self) -> dict:
        return {"feedback": list(self.feedback)}

    def load_state_dict(self, state: dict) -> None:
        saved = state["feedback"]
        if [tuple(b.shape) for b in saved] != [tuple(b.shape) for b in self.feedback]:
            raise ConfigError(f"method 'dfa': the checkpoint's feedback matrices {[tuple(b.shape) for b in saved]} do "
                              f"not fit this model's blocks {[tuple(b.shape) for b in self.feedback]}")
        for mine, theirs in zip(self.feedback, saved):
            mine.copy_(theirs)
