"""Online group DRO (Sagawa et al., 2020, Algorithm 1): train on the q-weighted sum of per-group
losses, with q moved toward the groups of highest loss by exponentiated-gradient ascent.

The functional core acts on plain tensors:

    group_losses(losses, groups, n)            per-group mean loss L_g of a batch, and which groups it holds
    group_adjustments(counts, C)               C / sqrt(n_g), the generalization adjustment (Eq. 5)
    update_group_weights(q, L, present, ...)   q_g <- q_g exp(eta_q (L_g + C / sqrt(n_g))), renormalised
    robust_loss(L, q)                          sum_g q_g L_g, the loss the model descends

`GroupDRO` binds them to zoo.train's `loss` event: each training batch replaces the task's loss
term by the robust loss. The paper's point is that group DRO only helps with strong regularization
(a large L2 penalty or early stopping), which are zoo.train's own options (weight_decay, patience).
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from zoo.config import Field
from zoo.training.method import Method, MethodConfig, MethodMismatchError

__all__ = ["group_losses", "group_adjustments", "update_group_weights", "robust_loss", "GroupDROConfig",
           "GroupDRO"]


def group_losses(losses: torch.Tensor, groups: torch.Tensor, num_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, present): L_g the mean of the per-example `losses` whose group is g (0 for a group the
    batch lacks), present_g whether the batch holds any example of group g."""
    one_hot = F.one_hot(groups.long(), num_groups).to(losses.dtype)  # (n, G)
    counts = one_hot.sum(dim=0)
    sums = one_hot.t() @ losses.reshape(-1)
    return sums / counts.clamp_min(1), counts > 0


def group_adjustments(counts, adjustment: float) -> torch.Tensor:
    """C / sqrt(n_g) of each group (Eq. 5: smaller groups generalize worse, so their training loss
    is raised by a bound that shrinks with their size); zeros when C = 0."""
    counts = torch.as_tensor(counts, dtype=torch.float32)
    return adjustment / counts.clamp_min(1).sqrt()


def update_group_weights(q: torch.Tensor, losses: torch.Tensor, present: torch.Tensor, step_size: float,
                         adjustments: torch.Tensor | None = None) -> torch.Tensor:
    """One step of Algorithm 1 on the group weights: q_g <- q_g exp(eta_q (L_g + C / sqrt(n_g))) for
    each group present in the batch, then q <- q / sum q. Groups the batch lacks keep their q_g before
    the renormalisation (their loss is unknown). Computed without gradients; returns the new q."""
    with torch.no_grad():
        ascent = losses.detach().to(q.dtype)
        if adjustments is not None:
            ascent = ascent + adjustments.to(q.device, q.dtype)
        # subtracting the largest exponent leaves the normalised q unchanged and keeps exp finite
        exponent = torch.where(present, step_size * ascent, torch.zeros_like(ascent))
        weighted = torch.log(q) + exponent
        weighted = torch.exp(weighted - weighted.max())
        return weighted / weighted.sum()


def robust_loss(losses: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """sum_g q_g L_g: the model's loss in Algorithm 1 (q is held fixed in its gradient)."""
    return (q.detach().to(losses.dtype) * losses).sum()


class GroupDROConfig(MethodConfig):
    step_size: float = Field(0.01, gt=0, description="eta_q of Algorithm 1: the step of the exponentiated-gradient "
                                                     "ascent on the group weights q (the authors' code's 0.01)")
    adjustment: float = Field(0.0, ge=0, description="C of the generalization adjustment C / sqrt(n_g) (Eq. 5), "
                                                     "added to each group's loss in the update of q; 0: none (the "
                                                     "paper tunes C in 0..5 per dataset)")


class GroupDRO(Method):
    """Group DRO (Sagawa, Koh, Hashimoto & Liang, 2020): minimise the worst group's expected loss by
    online weights q over the groups (Algorithm 1).

    It needs a task that names each example's group: `group_labels(batch)` (group ids 0..G-1) and
    `num_groups` (G); `group_counts` (training examples per group) when `adjustment` > 0; and a
    per-example loss, the task's `example_losses(output, batch)` or, for a classification task with
    class-id targets, the cross entropy of each example. q is uniform at the first run, carried over
    to later runs with the same method object, and part of every checkpoint.
    """

    name = "group-dro"
    Config = GroupDROConfig

    def __init__(self, **options):
        super().__init__(**options)
        self.q: torch.Tensor | None = None
        self.adjustments: torch.Tensor | None = None
        self.example_losses = None

    # --- what it needs ----------------------------------------------------------------------------

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        if not callable(getattr(task, "group_labels", None)) or not isinstance(getattr(task, "num_groups", None), int):
            return ("a task with group labels: group_labels(batch) giving each example's group id and num_groups "
                    f"(task {getattr(task, 'name', task)!r} has none)")
        if task.num_groups < 2:
            return f"at least 2 groups (the task has {task.num_groups})"
        if self.config.adjustment > 0 and len(getattr(task, "group_counts", ()) or ()) != task.num_groups:
            return f"the task's group_counts (training examples per group) for adjustment={self.config.adjustment}"
        if not callable(getattr(task, "example_losses", None)) and getattr(task, "kind", None) != "classification":
            return "a per-example loss: the task's example_losses(output, batch), or a classification task"
        return None

    def _example_losses(self, task, output, batch) -> torch.Tensor:
        own = getattr(task, "example_losses", None)
        if callable(own):
            return own(output, batch)
        return F.cross_entropy(output, task.targets(batch), reduction="none")

    # --- events -----------------------------------------------------------------------------------

    def setup(self, run) -> None:
        groups = run.task.num_groups
        if self.q is not None and self.q.numel() == groups:
            self.q = self.q.to(run.device)  # a later run with the same object continues from q
        else:
            self.q = torch.full((groups,), 1.0 / groups, device=run.device)
        counts = getattr(run.task, "group_counts", None) or [1] * groups
        self.adjustments = group_adjustments(counts, self.config.adjustment).to(run.device)

    def loss(self, terms: dict, output, batch, run) -> dict:
        if "task" not in terms:
            raise MethodMismatchError(f"method {self.name!r} replaces the task's loss term, but the step gave "
                                      f"{list(terms)}: no 'task' (does the task have several loss terms?)")
        losses = self._example_losses(run.task, output, batch)
        per_group, present = group_losses(losses, run.task.group_labels(batch), self.q.numel())
        self.q.copy_(update_group_weights(self.q, per_group, present, self.config.step_size, self.adjustments))
        return {**terms, "task": robust_loss(per_group, self.q)}

    # --- state ------------------------------------------------------------------------------------

    @property
    def group_weights(self) -> list[float]:
        """The current q."""
        return [] if self.q is None else self.q.detach().cpu().tolist()

    def state_dict(self) -> dict:
        return {} if self.q is None else {"q": self.q.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        if not state:
            return
        if state["q"].numel() != self.q.numel():
            raise MethodMismatchError(f"method {self.name!r}: the checkpoint weighs {state['q'].numel()} groups, "
                                      f"this run's task has {self.q.numel()}")
        self.q.copy_(state["q"])
