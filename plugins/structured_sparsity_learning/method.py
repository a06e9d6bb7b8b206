"""Structured sparsity learning (SSL): group Lasso over the structures of Conv2d/Linear weights, and their removal.

The functional core acts on any torch model and needs no zoo.train:

    layers = ssl_layers(model)                           # {name: Conv2d/Linear}
    group_norms(layer.weight, "filter")                  # ||W_{n,:,:,:}||_2 for every filter n
    penalty = group_lasso(layers, {"filter": 3e-3, "channel": 3e-3})   # lambda_g sum_g ||w^(g)||_2 (Eq. 2)
    report = zero_small_groups(model, threshold=1e-3)    # remove (zero) the vanished structures
    structure_report(model)                              # per layer: filters / channels / shapes left

`StructuredSparsityLearning` binds it to zoo.train: a `loss` step method adding the "group_lasso" term.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from zoo.config import Field
from zoo.training.method import Method, MethodConfig

__all__ = ["SSLConfig", "StructuredSparsityLearning", "KINDS", "ssl_layers", "group_norms", "group_lasso",
           "structure_report", "zero_small_groups"]

KINDS = ("filter", "channel", "shape", "depth")
GroupKind = Literal["filter", "channel", "shape", "depth"]


class SSLConfig(MethodConfig):
    groups: list[GroupKind] = Field(["filter", "channel"], description=(
        "the structures regularised: filter (output filters / neurons, Eq. 3), channel (input channels / neurons, "
        "Eq. 3), shape (one weight position across all filters, Eq. 4), depth (the whole layer)"))
    lambda_filter: float = Field(0.003, ge=0, description=(
        "lambda_n of the filter-wise group Lasso (the authors' examples: breadth_decay 0.003)"))
    lambda_channel: float = Field(0.003, ge=0, description="lambda_c of the channel-wise group Lasso (0.003)")
    lambda_shape: float = Field(0.003, ge=0, description=(
        "lambda_s of the filter-shape-wise group Lasso (the authors' examples: kernel_shape_decay 0.003)"))
    lambda_depth: float = Field(0.007, ge=0, description=(
        "lambda_d of the depth-wise group Lasso over each whole layer (the authors' ResNet example: 0.007); "
        "only for layers a shortcut can bypass"))
    layers: list[str] | None = Field(None, description=(
        "module names of the Conv2d / Linear layers regularised; None: every one"))


# --- the functional core -------------------------------------------------------------------------------


def ssl_layers(model: nn.Module, names: list[str] | None = None) -> dict[str, nn.Module]:
    """{module name: module} of the Conv2d and Linear layers SSL acts on (`names`, or all of them)."""
    modules = dict(model.named_modules())
    if names is not None:
        return {name: modules[name] for name in names}
    return {name: m for name, m in modules.items() if isinstance(m, (nn.Conv2d, nn.Linear))}


def _grouped(weight: torch.Tensor, kind: str) -> torch.Tensor | None:
    """The weight as a matrix with one group per row, or None where the kind does not apply."""
    if kind == "filter":  # W_{n,:,:,:}: everything feeding output n
        return weight.flatten(1)
    if kind == "channel":  # W_{:,c,:,:}: everything reading input c
        return weight.transpose(0, 1).flatten(1)
    if kind == "shape":  # W_{:,c,h,w}: one kernel position across all filters
        return weight.flatten(1).t() if weight.dim() == 4 else None
    if kind == "depth":
        return weight.reshape(1, -1)
    raise ValueError(f"unknown group kind {kind!r}; expected one of {KINDS}")


def group_norms(weight: torch.Tensor, kind: str) -> torch.Tensor | None:
    """||w^(g)||_2 of every group of one kind in a Conv2d (N, C, H, W) or Linear (N, C) weight."""
    grouped = _grouped(weight, kind)
    return None if grouped is None else torch.linalg.vector_norm(grouped, dim=1)


def group_lasso(layers: dict[str, nn.Module], lambdas: dict[str, float]) -> torch.Tensor:
    """sum_kind lambda_kind sum_layers sum_g ||w^(g)||_2: the structured term of Eq. (2)
    (Eq. 3 for filters and channels, Eq. 4 for filter shapes, and the whole layer for depth)."""
    total = None
    for module in layers.values():
        for kind, strength in lambdas.items():
            if strength == 0:
                continue
            norms = group_norms(module.weight, kind)
            if norms is None:
                continue
            term = strength * norms.sum()
            total = term if total is None else total + term
    if total is None:
        return torch.zeros((), device=next(iter(layers.values())).weight.device)
    return total


@torch.no_grad()
def structure_report(model: nn.Module, layers: dict[str, nn.Module] | None = None,
                     threshold: float = 0.0) -> dict[str, dict[str, list[int]]]:
    """{layer: {kind: [removed, total]}} of the filters, channels and (conv) shapes whose norm is at most
    `threshold` (0: exactly zero), and {"depth": [1, 1]} for a layer that is zero as a whole."""
    report = {}
    for name, module in (layers or ssl_layers(model)).items():
        entry = {}
        for kind in KINDS:
            norms = group_norms(module.weight, kind)
            if norms is not None:
                entry[kind] = [int((norms <= threshold).sum()), norms.numel()]
        report[name] = entry
    return report


@torch.no_grad()
def zero_small_groups(model: nn.Module, threshold: float = 1e-3, groups: tuple[str, ...] = ("filter", "channel", "shape"),
                      layers: dict[str, nn.Module] | None = None) -> dict[str, dict[str, list[int]]]:
    """Remove the structures that SSL drove to zero: set to exactly zero every group (of the given kinds)
    whose L2 norm is below `threshold`, then return structure_report (what is now zero, per layer)."""
    layers = layers or ssl_layers(model)
    for module in layers.values():
        weight = module.weight
        for kind in groups:
            norms = group_norms(weight, kind)
            if norms is None:
                continue
            keep = (norms >= threshold).to(weight.dtype)
            if kind == "filter":
                weight.mul_(keep.view(-1, *[1] * (weight.dim() - 1)))
            elif kind == "channel":
                weight.mul_(keep.view(1, -1, *[1] * (weight.dim() - 2)))
            elif kind == "shape":
                weight.mul_(keep.view(1, *weight.shape[1:]))
            else:  # depth: the whole layer
                weight.mul_(keep.view(()))
    return structure_report(model, layers)


# --- the method ----------------------------------------------------------------------------------------


class StructuredSparsityLearning(Method):
    """SSL (Wen et al., 2016) as a loss step method: adds the term "group_lasso" (Eq. 2) over the chosen
    structures of every Conv2d / Linear layer. After training, `zero_small_groups` removes what vanished."""

    name = "structured-sparsity-learning"
    Config = SSLConfig
    layer_types = (nn.Conv2d, nn.Linear)

    def __init__(self, **options):
        super().__init__(**options)
        self._layers: dict[str, nn.Module] = {}

    @property
    def lambdas(self) -> dict[str, float]:
        c = self.config
        strengths = {"filter": c.lambda_filter, "channel": c.lambda_channel, "shape": c.lambda_shape,
                     "depth": c.lambda_depth}
        return {kind: strengths[kind] for kind in dict.fromkeys(c.groups)}

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        names = self.config.layers
        if names is not None:
            modules = dict(model.named_modules())
            if not names:
                return "at least one layer in layers= (it is empty)"
            wrong = [n for n in names if not isinstance(modules.get(n), (nn.Conv2d, nn.Linear))]
            if wrong:
                return (f"layers= to name Conv2d or Linear modules of the model ({wrong[0]!r} is "
                        f"{type(modules[wrong[0]]).__name__ if wrong[0] in modules else 'not a module of it'})")
        if not self.config.groups:
            return "at least one group kind in groups= (it is empty)"
        return None

    def setup(self, run) -> None:
        self._layers = ssl_layers(run.model, self.config.layers)

    def loss(self, terms: dict, output, batch, run) -> dict:
        return {**terms, "group_lasso": group_lasso(self._layers, self.lambdas)}

    def end(self, run) -> None:
        self._layers = {}
