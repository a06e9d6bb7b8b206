"""Distilling a neural network into a soft decision tree (Frosst & Hinton, 2017): the tree's loss
(Eq. 1), the balancing penalty (Sec. 4.1), and the `soft-decision-tree-distill` method that trains a
`soft-decision-tree` on a teacher network's soft targets.

The functional core acts on a tree's routing (model.Routing) and plain tensors:

    tree_loss(routing, targets)          Eq. 1: -sum_l P^l(x) sum_k T_k log Q^l_k, averaged over the batch
    balance_penalty(routing, lam)        -lam sum_i 2^-d(i) (1/2 log alpha_i + 1/2 log(1 - alpha_i))
    soft_targets(logits, temperature)    T = softmax(teacher logits / temperature)

`SoftDecisionTreeDistill` binds them to zoo.train's `loss` event: the task's cross entropy is replaced
by the tree loss against the teacher's soft targets (or, with targets="data", the one-hot labels:
the paper's baseline of a tree learned directly from the data), plus the penalty.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from zoo.config import Field
from zoo.training.method import Method, MethodConfig, MethodMismatchError

from .model import Routing, SoftDecisionTree

__all__ = ["tree_loss", "balance_penalty", "soft_targets", "node_depths", "SoftDecisionTreeDistillConfig",
           "SoftDecisionTreeDistill"]


def tree_loss(routing: Routing, targets: torch.Tensor) -> torch.Tensor:
    """Eq. 1 read as the paper's text states it (each leaf's cross entropy to the targets T, weighted
    by its path probability P^l(x)): -sum_l P^l sum_k T_k log Q^l_k, averaged over the batch.
    targets: (batch, classes) distributions."""
    leaf_cross_entropy = -targets.to(routing.leaf_log_probs.dtype) @ routing.leaf_log_probs.t()  # (batch, leaves)
    return (routing.path * leaf_cross_entropy).sum(dim=1).mean()


def node_depths(inner_nodes: int) -> torch.Tensor:
    """The depth d of each inner node in breadth-first order (root 0, its children 1, ...)."""
    return torch.floor(torch.log2(torch.arange(inner_nodes, dtype=torch.float64) + 1)).float()


def balance_penalty(routing: Routing, strength: float) -> torch.Tensor:
    """Sec. 4.1: C = -lam sum_i 2^-d(i) (1/2 log(alpha_i) + 1/2 log(1 - alpha_i)) with
    alpha_i = sum_x P^i(x) p_i(x) / sum_x P^i(x), the share of the node's reach it sends right in this
    batch. It is smallest when every node splits its inputs evenly; the weight 2^-d decays with depth
    (deep nodes see few examples, so their alpha is a noisy estimate)."""
    reach, inner = routing.reach, routing.inner
    alpha = (reach * inner).sum(dim=0) / reach.sum(dim=0).clamp_min(1e-12)
    alpha = alpha.clamp(1e-6, 1 - 1e-6)  # a node no example reaches would give log 0
    decay = torch.pow(2.0, -node_depths(inner.shape[1])).to(inner.device, inner.dtype)
    return -strength * (decay * (0.5 * alpha.log() + 0.5 * (1 - alpha).log())).sum()


def soft_targets(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    """The teacher's soft targets T = softmax(logits / temperature), without gradient."""
    return torch.softmax(logits.detach().float() / temperature, dim=-1)


class SoftDecisionTreeDistillConfig(MethodConfig):
    targets: Literal["teacher", "data"] = Field(
        "teacher", description="what the tree learns: the teacher's soft targets (the paper's distillation) or the "
                               "one-hot training labels (the paper's baseline: the tree learned from the data)")
    temperature: float = Field(1.0, gt=0, description="softmax temperature of the teacher's soft targets (the paper "
                                                       "uses the network's own output distribution: 1)")
    penalty_strength: float = Field(0.1, ge=0, description="lambda of the balancing penalty at the root; a node at "
                                                           "depth d gets lambda 2^-d (Sec. 4.1; the paper gives no value)")


def find_tree(model: nn.Module) -> SoftDecisionTree | None:
    return next((m for m in model.modules() if isinstance(m, SoftDecisionTree)), None)


class SoftDecisionTreeDistill(Method):
    """Train a soft decision tree with Eq. 1 on a teacher's soft targets (or on the labels) plus the
    balancing penalty. The model must be or hold a `SoftDecisionTree` (zoo.create("soft-decision-tree",
    ...)); its forward pass keeps the routing the losses read."""

    name = "soft-decision-tree-distill"
    Config = SoftDecisionTreeDistillConfig
    task_kinds = ("classification",)
    layer_types = (SoftDecisionTree,)
    objects = {"teacher": "the trained network whose soft targets the tree learns, an nn.Module taking the same "
                          "inputs as the tree and giving logits over the same classes (not needed with "
                          "targets='data')"}

    def __init__(self, **options):
        super().__init__(**options)
        self.tree: SoftDecisionTree | None = None

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing and missing.startswith("teacher=") and self.config.targets == "data":
            missing = None  # the labels are the targets: no teacher needed
        if missing:
            return missing
        if self.config.targets == "teacher":
            if not isinstance(self.teacher, nn.Module):
                return f"teacher= as an nn.Module (got {type(self.teacher).__name__})"
            if self.teacher is model:
                return "a teacher other than the tree itself"
        return None

    def setup(self, run) -> None:
        self.tree = find_tree(run.model)
        if self.config.targets == "teacher":
            self.teacher.to(run.device).eval()  # fixed: no dropout, no batch-norm statistics updates

    def targets_of(self, batch, task) -> torch.Tensor:
        """The targets T of a batch: the teacher's soft targets or the one-hot labels."""
        if self.config.targets == "data":
            labels = task.targets(batch)
            return nn.functional.one_hot(labels.long(), self.tree.config.num_classes).float()
        with torch.no_grad():
            return soft_targets(self.teacher(*task.inputs(batch)), self.config.temperature)

    def loss(self, terms: dict, output, batch, run) -> dict:
        routing = self.tree.routing
        if routing is None:
            raise MethodMismatchError(f"method {self.name!r}: the tree was not called in the forward pass")
        targets = self.targets_of(batch, run.task)
        if targets.shape[-1] != routing.leaf_log_probs.shape[-1]:
            raise MethodMismatchError(f"method {self.name!r}: the teacher gives {targets.shape[-1]} classes, the tree's "
                                      f"leaves {routing.leaf_log_probs.shape[-1]}")
        out = {k: v for k, v in terms.items() if k != "task"}  # Eq. 1 replaces the task's cross entropy
        out["tree"] = tree_loss(routing, targets)
        if self.config.penalty_strength > 0:
            out["balance"] = balance_penalty(routing, self.config.penalty_strength)
        return out

    def end(self, run) -> None:
        if self.tree is not None:
            self.tree.routing = None  # drop the last batch's graph
