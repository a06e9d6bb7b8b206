"""Weigh named loss terms by learned homoscedastic uncertainty (Kendall, Gal & Cipolla, Eq. 7 / Eq. 10).

The functional core acts on plain tensors; `UncertaintyLossWeighting` binds it to `zoo.train` as the
run's loss combiner. With s_i = log sigma_i^2 (the paper's parameterization, Sec. 3.2) a term L_i
enters the loss as

    regression term      1/(2 sigma_i^2) L_i + log sigma_i  =  1/2 exp(-s_i) L_i + s_i / 2     (Eq. 7)
    classification term  1/sigma_i^2     L_i + log sigma_i  =      exp(-s_i) L_i + s_i / 2     (Eq. 10)

so for a fixed L_i the loss is smallest at s_i = log(2 c_i L_i) with c_i = 1/2 (regression) or 1
(classification): sigma_i^2 follows the size of its task's loss, and the task's effective weight
c_i exp(-s_i) becomes 1 / (2 L_i) for either kind.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Literal

import torch

from zoo.config import Field
from zoo.training.method import Method, MethodConfig, MethodMismatchError

__all__ = ["KINDS", "FACTORS", "uncertainty_weighted_loss", "loss_weights", "optimal_log_variance",
           "UncertaintyLossWeightingConfig", "UncertaintyLossWeighting"]

KINDS = ("regression", "classification")
# the factor in front of exp(-s) L: 1/2 from the Gaussian likelihood (Eq. 5), 1 from the scaled softmax (Eq. 9)
FACTORS = {"regression": 0.5, "classification": 1.0}


def _factors(kinds: Sequence[str], like: torch.Tensor) -> torch.Tensor:
    unknown = [k for k in kinds if k not in FACTORS]
    if unknown:
        raise ValueError(f"loss term kinds must be 'regression' or 'classification', got {unknown}")
    return torch.tensor([FACTORS[k] for k in kinds], dtype=like.dtype, device=like.device)


def loss_weights(log_variances: torch.Tensor, kinds: Sequence[str]) -> torch.Tensor:
    """The effective weight c_i exp(-s_i) of each term: 1/(2 sigma^2) for regression, 1/sigma^2 for classification."""
    return _factors(kinds, log_variances) * torch.exp(-log_variances)


def uncertainty_weighted_loss(losses: Sequence[torch.Tensor], log_variances: torch.Tensor,
                              kinds: Sequence[str]) -> torch.Tensor:
    """sum_i c_i exp(-s_i) L_i + s_i / 2 (Eq. 7 for regression terms, Eq. 10 mixing both kinds).

    losses: scalar loss tensors L_i; log_variances: the vector s (one entry per loss); kinds: per
    loss "regression" (c = 1/2) or "classification" (c = 1). Computed in float32 at least, so that
    exp(-s) keeps its precision under mixed precision.
    """
    if not (len(losses) == len(kinds) == log_variances.numel()):
        raise ValueError(f"{len(losses)} losses, {len(kinds)} kinds and {log_variances.numel()} log-variances: "
                         f"expected one of each per term")
    s = log_variances.reshape(-1)
    dtype = torch.promote_types(s.dtype, torch.float32)
    s = s.to(dtype)
    stacked = torch.stack([loss.reshape(()).to(dtype) for loss in losses])
    return (loss_weights(s, kinds) * stacked).sum() + 0.5 * s.sum()  # 0.5 s_i = log sigma_i


def optimal_log_variance(loss: float, kind: str) -> float:
    """The s that minimizes c exp(-s) L + s/2 for a fixed loss L > 0: log(2 c L) (log L for regression)."""
    if loss <= 0:
        raise ValueError(f"the loss must be positive, got {loss}")
    return math.log(2.0 * FACTORS[kind] * loss)


class UncertaintyLossWeightingConfig(MethodConfig):
    terms: dict[str, Literal["regression", "classification"]] | None = Field(
        None, description="the loss terms to weigh and the kind of each ('regression': 1/(2 sigma^2) L + log sigma, "
                          "Eq. 7; 'classification': 1/sigma^2 L + log sigma, Eq. 10); None: the task's "
                          "loss_term_kinds. Terms not named here are added unweighted")
    init_log_variance: float = Field(0.0, ge=-20.0, le=20.0,
                                     description="initial s_i = log sigma_i^2 of every term (0: sigma_i = 1)")


class UncertaintyLossWeighting(Method):
    """The loss combiner of Eq. 7 / Eq. 10: one learned log-variance s_i per named loss term,
    optimized with the model's parameters by the run's optimizer.

    It needs a task whose `loss_terms(output, batch)` gives at least two named terms and whose
    `loss_term_kinds` ({term: "regression" | "classification"}) says which factor each takes, or the
    `terms` option naming them. The learned s is kept across `zoo.train` calls with the same
    method object (the model's weights are too), and is part of every checkpoint.
    """

    name = "uncertainty-loss-weighting"
    Config = UncertaintyLossWeightingConfig

    def __init__(self, **options):
        super().__init__(**options)
        self.term_names: list[str] = []
        self.kinds: list[str] = []
        self.log_variance: torch.nn.Parameter | None = None

    # --- what it needs ----------------------------------------------------------------------------

    def _terms_for(self, task) -> dict[str, str] | None:
        if self.config.terms is not None:
            return dict(self.config.terms)
        declared = getattr(task, "loss_term_kinds", None)
        return dict(declared) if isinstance(declared, Mapping) else None

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        terms = self._terms_for(task)
        if terms is None:
            has_terms = callable(getattr(task, "loss_terms", None))
            return ("a task with several loss terms: loss_terms(output, batch) giving >= 2 named terms and "
                    "loss_term_kinds saying which are regression or classification (or the terms= option); "
                    + ("this task has loss_terms but no loss_term_kinds" if has_terms else
                       "this task has one loss ('task')"))
        if len(terms) < 2:
            return f">= 2 loss terms to weigh, got {sorted(terms) or 'none'}"
        bad = {k: v for k, v in terms.items() if v not in KINDS}
        if bad:
            return f"each term's kind to be 'regression' or 'classification', got {bad}"
        return None

    # --- events -----------------------------------------------------------------------------------

    def setup(self, run) -> None:
        terms = self._terms_for(run.task)
        names, kinds = list(terms), [terms[n] for n in terms]
        if self.log_variance is not None and names == self.term_names:
            # a later run with the same object continues from the learned s, as the model continues
            self.log_variance.data = self.log_variance.data.to(run.device)
            return
        self.term_names, self.kinds = names, kinds
        self.log_variance = torch.nn.Parameter(
            torch.full((len(names),), float(self.config.init_log_variance), device=run.device))

    def parameters(self) -> list:
        return [self.log_variance] if self.log_variance is not None else []

    def combine(self, terms: dict, run):
        missing = [n for n in self.term_names if n not in terms]
        if missing:
            raise MethodMismatchError(f"method {self.name!r} weighs loss terms {self.term_names}, but the step gave "
                                      f"{list(terms)}: no {missing}")
        loss = uncertainty_weighted_loss([terms[n] for n in self.term_names], self.log_variance, self.kinds)
        for name, value in terms.items():
            if name not in self.term_names:  # another method's term (a penalty) keeps its own coefficient
                loss = loss + value
        return loss

    # --- what it learned --------------------------------------------------------------------------

    @property
    def sigmas(self) -> dict[str, float]:
        """sigma_i = exp(s_i / 2) of each term."""
        return {n: float(torch.exp(0.5 * s)) for n, s in zip(self.term_names, self._s())}

    @property
    def weights(self) -> dict[str, float]:
        """The effective weight c_i exp(-s_i) of each term's loss."""
        if self.log_variance is None:
            return {}
        return dict(zip(self.term_names, loss_weights(self._s(), self.kinds).tolist()))

    def _s(self) -> torch.Tensor:
        return self.log_variance.detach().float().cpu() if self.log_variance is not None else torch.zeros(0)

    def state_dict(self) -> dict:
        if self.log_variance is None:
            return {}
        return {"terms": list(self.term_names), "kinds": list(self.kinds),
                "log_variance": self.log_variance.detach().clone()}

    def load_state_dict(self, state: dict) -> None:
        if not state:
            return
        if list(state["terms"]) != self.term_names or list(state["kinds"]) != self.kinds:
            raise MethodMismatchError(f"method {self.name!r}: the checkpoint weighs terms "
                                      f"{dict(zip(state['terms'], state['kinds']))}, this run "
                                      f"{dict(zip(self.term_names, self.kinds))}")
        self.log_variance.data.copy_(state["log_variance"])  # into the tensor the optimizer holds
