"""Optimal Brain Compression: exact Optimal Brain Surgeon, layer by layer, for unstructured pruning
(ExactOBS) and for quantization (OBQ), from a few unlabelled calibration inputs and no retraining.

Each layer's problem (Sec. 3): find the compressed weight W^ minimising ||W X - W^ X||^2, whose
Hessian H = 2 X X^T is the same for every row of W, so each row is compressed on its own. The
functional core works on a weight matrix and H, without zoo.train:

    layer_hessian(X)                           H = 2 X X^T (+ a small dampening on the diagonal)
    prune_trace(W, H_inv)                      ExactOBS greedy order per row, removing one weight per
                                               step and updating the rest (Eq. 3) and H^-1 (Lemma 1,
                                               Eq. 4): each step's loss and the weights after it
    global_counts(losses, sparsity)            the layer's mask: the k cheapest steps over all rows
    prune_rows(trace, counts)                  the weights with counts[r] removals in row r
    quantize_rows(W, H_inv, grid)              OBQ: the same greedy order, each weight moved to the grid
    magnitude_prune(W, sparsity)               the baseline: the smallest |w| of the layer set to 0
    compress(model, data, ...)                 every compressible layer of a model, in place

`OptimalBrainCompression` binds it to the method mechanism: a post-training procedure,
`.run(model, data)`, structural so that zoo.save records it and quantized layers keep their grid.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from zoo.config import Field
from zoo.errors import ConfigError
from zoo.training.calibration import (Grid, attach_grid, calibration_inputs, capture, compressible_layers, fit_grid,
                                      layer_input_matrix, weight_matrix)
from zoo.training.method import Method, MethodConfig, apply_structural

__all__ = ["OBCConfig", "OptimalBrainCompression", "OBCResult", "layer_hessian", "inverse_hessian",
           "prune_trace", "prune_rows", "global_counts", "exact_obs_prune", "quantize_rows", "magnitude_prune",
           "layer_error", "compress"]


class OBCConfig(MethodConfig):
    """Optimal Brain Compression's options. Unstructured pruning to `sparsity`, or quantization to
    `bits` (one of the two per run). Defaults follow the paper's setup where it states one (per-channel
    asymmetric weight grids, a calibration set of 1024 unlabelled samples)."""

    sparsity: float = Field(0.0, ge=0, lt=1, description="fraction of each layer's weights pruned (ExactOBS); "
                                                         "0: no pruning")
    bits: int | None = Field(None, ge=2, le=8, description="weight bitwidth for OBQ; None: no quantization")
    per_channel: bool = Field(True, description="one quantization grid per output channel; False: one per layer")
    symmetric: bool = Field(False, description="a grid symmetric about zero; False: asymmetric, with a zero point")
    dampening: float = Field(0.01, ge=0, description="added to H's diagonal, as a fraction of its mean diagonal: keeps "
                                                     "H invertible where inputs are dead or collinear")
    samples: int = Field(1024, ge=1, le=100_000, description="calibration samples (unlabelled)")
    split: str = Field("train", description="the task split calibration samples are drawn from")
    seed: int = Field(0, ge=0, description="seed of the calibration draw")
    skip: list[str] = Field([], description="fnmatch patterns of layer names left uncompressed")


# --- the functional core -----------------------------------------------------------------------------


def layer_hessian(x_rows: torch.Tensor, dampening: float = 0.01) -> torch.Tensor:
    """H = 2 X X^T of the layer-wise problem (X: the layer's input matrix, one row per sample and
    position, in float64), plus `dampening` times its mean diagonal on the diagonal."""
    x = x_rows.double()
    h = 2 * x.T @ x
    h.diagonal().add_(dampening * h.diagonal().mean().clamp_min(1e-12))
    return h


def inverse_hessian(h: torch.Tensor) -> torch.Tensor:
    """H^-1 by Cholesky (H is symmetric positive definite once dampened)."""
    return torch.cholesky_inverse(torch.linalg.cholesky(h))


def _remove(w: torch.Tensor, h_inv: torch.Tensor, p: torch.Tensor, target: torch.Tensor) -> None:
    """One OBS step on every row r at once, in place: move w[r, p_r] to target[r] and update the
    remaining weights by (target - w_p) / [H^-1]_pp * H^-1[:, p] (Eq. 3; target 0 for pruning), then
    H^-1 <- H^-1 - H^-1[:, p] H^-1[p, :] / [H^-1]_pp, which zeroes row and column p: the inverse of
    H without p, held in place (Lemma 1, Eq. 4)."""
    rows = torch.arange(w.shape[0], device=w.device)
    column = h_inv[rows, :, p]  # (rows, d): H^-1[:, p] of each row's own inverse
    pivot = column[rows, p]
    w.add_(((target - w[rows, p]) / pivot).unsqueeze(1) * column)
    w[rows, p] = target  # exactly, not up to rounding
    h_inv.baddbmm_(column.unsqueeze(2), (column / -pivot.unsqueeze(1)).unsqueeze(1))


def _per_row(w: torch.Tensor, h_inv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 copies: the weights, and one H^-1 per row (each row removes its own weights)."""
    return w.float().clone(), h_inv.float().expand(w.shape[0], -1, -1).clone()


def prune_trace(w: torch.Tensor, h_inv: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ExactOBS's greedy order on every row at once: at each step remove the weight with the least
    w_q^2 / [H^-1]_qq (Eq. 2) and update the others (Eq. 3, Eq. 4). Returns the loss increase of
    each step, (rows, columns), and the trace of the weights after 0, 1, ..., columns removals,
    (columns + 1, rows, columns), from which any per-row count is read without running again."""
    out, h_inv = _per_row(w, h_inv)
    removed = torch.zeros_like(out, dtype=torch.bool)
    losses = torch.empty_like(out)
    trace = torch.empty((out.shape[1] + 1, *out.shape), dtype=out.dtype, device=out.device)
    rows = torch.arange(out.shape[0], device=out.device)
    trace[0] = out
    for step in range(out.shape[1]):
        score = out.pow(2) / h_inv.diagonal(dim1=1, dim2=2)
        score[removed] = float("inf")
        p = score.argmin(dim=1)
        losses[:, step] = score[rows, p] / 2
        _remove(out, h_inv, p, torch.zeros_like(out[rows, p]))
        removed[rows, p] = True
        out[removed] = 0  # removed weights stay exactly zero (their H^-1 column is zero up to rounding)
        trace[step + 1] = out
    return losses, trace


def global_counts(losses: torch.Tensor, sparsity: float) -> torch.Tensor:
    """How many weights each row loses for the layer to reach `sparsity`: the k = sparsity * size
    cheapest steps over all rows (each row's steps taken in its greedy order)."""
    k = int(round(sparsity * losses.numel()))
    counts = torch.zeros(losses.shape[0], dtype=torch.long, device=losses.device)
    if k == 0:
        return counts
    cheapest = torch.topk(losses.flatten(), k, largest=False).indices
    return counts.index_add_(0, cheapest // losses.shape[1], torch.ones_like(cheapest))


def prune_rows(trace: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
    """The weights with counts[r] weights of row r removed in ExactOBS's order, read from the trace."""
    return trace[counts, torch.arange(len(counts), device=counts.device)]


def exact_obs_prune(w: torch.Tensor, h: torch.Tensor, sparsities) -> list[torch.Tensor]:
    """The layer's weight matrix pruned by ExactOBS with a global (layer-wide) mask, at each of
    `sparsities` (one greedy pass serves them all)."""
    losses, trace = prune_trace(w, inverse_hessian(h))
    return [prune_rows(trace, global_counts(losses, s)).to(w.dtype) for s in sparsities]


def quantize_rows(w: torch.Tensor, h_inv: torch.Tensor, grid: Grid) -> torch.Tensor:
    """OBQ (Sec. 5): on every row, repeatedly quantize the weight with the least
    (quant(w_q) - w_q)^2 / [H^-1]_qq, moving it onto the grid and updating the not yet quantized
    weights to compensate (Eq. 3 with target quant(w_q)). A weight pushed past the grid's ends by
    the updates, whose rounding error exceeds half a step, is quantized next: its error would only grow."""
    out, h_inv = _per_row(w, h_inv)
    scale, zero = grid.scale.float(), grid.zero.float()
    done = torch.zeros_like(out, dtype=torch.bool)
    rows = torch.arange(w.shape[0], device=w.device)
    for _ in range(w.shape[1]):
        target = scale * (torch.clamp(torch.round(out / scale) + zero, 0, grid.maxq) - zero)
        error = (target - out).pow(2)
        score = error / h_inv.diagonal(dim1=1, dim2=2)
        outlier = (error > (scale / 2).pow(2) * (1 + 1e-9)) & ~done
        score = torch.where(outlier, torch.full_like(score, -float("inf")), score)  # an outlier first
        score[done] = float("inf")
        p = score.argmin(dim=1)
        _remove(out, h_inv, p, target[rows, p])
        done[rows, p] = True
    # every weight is now a grid value up to the float drift of later steps (their H^-1 column is
    # zero only up to rounding): snap them back exactly
    return Grid(scale, zero, grid.maxq).round(out).to(w.dtype)


def magnitude_prune(w: torch.Tensor, sparsity: float) -> torch.Tensor:
    """The baseline: the sparsity * size weights of least magnitude in the layer set to zero."""
    k = int(round(sparsity * w.numel()))
    out = w.clone()
    if k:
        out.view(-1)[torch.topk(w.abs().flatten(), k, largest=False).indices] = 0
    return out


def layer_error(w_new: torch.Tensor, w: torch.Tensor, h: torch.Tensor) -> float:
    """||W X - W^ X||^2 = tr((W - W^) H (W - W^)^T) / 2 of the layer-wise problem."""
    delta = (w_new - w).double()
    return float(((delta @ h) * delta).sum() / 2)


@dataclass
class OBCResult:
    """What `.run` returns: the model (compressed in place, the same object) and, per layer, the
    layer-wise error ||W X - W^ X||^2 of the compressed weights and of the baseline (magnitude
    pruning or rounding to nearest) on the calibration inputs."""

    model: nn.Module = field(repr=False)
    layers: dict[str, dict[str, float]] = field(default_factory=dict)

    def __repr__(self) -> str:
        rows = ", ".join(f"{n}: {e['baseline']:.3g} -> {e['obc']:.3g}" for n, e in self.layers.items())
        return f"OBCResult(layer error baseline -> OBC {{{rows}}})"


@torch.no_grad()
def compress(model: nn.Module, data, config: OBCConfig, *, calibration: torch.Tensor | None = None
             ) -> dict[str, dict[str, float]]:
    """Compress every compressible layer of `model` in place, each from the dense model's inputs
    (the layer-wise problems are independent, Sec. 3), and attach each quantized layer's grid."""
    c = config
    x = calibration if calibration is not None else calibration_inputs(data, c.samples, split=c.split, seed=c.seed)
    layers = compressible_layers(model, skip=c.skip)
    seen = capture(model, layers, x)
    report = {}
    for name, layer in layers.items():
        h = layer_hessian(layer_input_matrix(layer, seen[name].inputs), c.dampening)
        del seen[name]
        w = weight_matrix(layer).detach()
        if c.bits is not None:
            grid = fit_grid(w, c.bits, per_channel=c.per_channel, symmetric=c.symmetric)
            new = quantize_rows(w, inverse_hessian(h), grid)
            baseline = grid.round(w)
            attach_grid(layer, grid)
        else:
            new = exact_obs_prune(w, h, [c.sparsity])[0]
            baseline = magnitude_prune(w, c.sparsity)
        report[name] = {"obc": layer_error(new, w, h), "baseline": layer_error(baseline, w, h)}
        layer.weight.copy_(new.reshape(layer.weight.shape))
    return report


# --- the method -------------------------------------------------------------------------------------


class OptimalBrainCompression(Method):
    """Optimal Brain Compression (Frantar & Alistarh, 2022): post-training pruning (ExactOBS) or
    quantization (OBQ) of a trained model, layer by layer, from unlabelled calibration inputs.

    A procedure-like method: `zoo.method("optimal-brain-compression", sparsity=0.8).run(model, data)`
    (or bits=4) compresses in place, no training run involved. It is structural: the model records
    it (zoo.save writes it to config.json); pruned weights are stored as zeros and quantized layers
    carry their grid in buffers that zoo.load re-creates before loading the saved weights."""

    name = "optimal-brain-compression"
    Config = OBCConfig
    structural = True
    standalone = True  # run(model, data) after training; zoo.train refuses it before touching the model
    layer_types = (nn.Linear, nn.Conv1d, nn.Conv2d)

    def __init__(self, **options):
        super().__init__(**options)
        if self.config.bits is not None and self.config.sparsity > 0:
            raise ConfigError("method 'optimal-brain-compression': give sparsity= (pruning) or bits= (quantization), "
                              "not both in one run; run it twice to prune and then quantize")

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        if not compressible_layers(model, skip=self.config.skip):
            return ("a Linear or plain (ungrouped, zero-padded) Conv1d/Conv2d layer to compress"
                    + (f" outside skip={self.config.skip}" if self.config.skip else ""))
        return None

    def prepare(self, model) -> None:
        """Give each layer to be quantized its grid buffers (placeholders until run() or a load fills them)."""
        if self.config.bits is not None:
            for layer in compressible_layers(model, skip=self.config.skip).values():
                attach_grid(layer, bits=self.config.bits)

    def run(self, model: nn.Module, data, *, calibration: torch.Tensor | None = None) -> OBCResult:
        """Compress `model` in place from `data`'s calibration inputs (`calibration`: given inputs
        instead); returns the per-layer errors."""
        from zoo.training.data import as_task

        task = None if isinstance(data, torch.Tensor) else as_task(data)
        self.require(model, task)
        if self.config.bits is None and self.config.sparsity == 0:
            raise ConfigError("method 'optimal-brain-compression': nothing to do; give sparsity= or bits=")
        apply_structural(model, [self])
        return OBCResult(model, compress(model, task if task is not None else data, self.config,
                                         calibration=calibration))
