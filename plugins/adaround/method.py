"""AdaRound: learn, layer by layer, whether each weight rounds up or down onto its quantization grid.

The functional core works on any layer and tensors, without zoo.train:

    rectified_sigmoid(V)                      h(V) = clip(sigmoid(V) (zeta - gamma) + gamma, 0, 1)     (Eq. 23)
    rounding_regularizer(h, beta)             f_reg = sum(1 - |2 h - 1|^beta)                          (Eq. 24)
    initial_rounding_variable(w, grid)        V with h(V) = w/s - floor(w/s): starts at the float weight
    soft_weight(w_floor, V, grid)             W~ = s (clip(floor(W/s) + h(V) + z, 0, maxq) - z)        (Eq. 22)
    beta_at(iteration, config)                beta annealed from 20 to 2 after a warm-up without f_reg
    adaround_layer(layer, grid, x, target)    minimise ||W x - W~ x~||_F^2 + lambda f_reg, then round h
    adaround(model, data, ...)                every compressible layer in order, inputs from the
                                              already-quantized model (the asymmetric variant, Eq. 25)

`AdaRound` binds it to the method mechanism: a post-training procedure, `.run(model, data)`, that
quantizes a trained model in place; it is structural so that zoo.save records it and each
quantized layer keeps its grid in buffers (weight_scale, weight_zero, weight_maxq).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from zoo.config import Field
from zoo.training.calibration import (Grid, attach_grid, calibration_inputs, capture, compressible_layers, fit_grid,
                                      weight_matrix)
from zoo.training.method import Method, MethodConfig, apply_structural

__all__ = ["AdaRoundConfig", "AdaRound", "AdaRoundResult", "rectified_sigmoid", "rounding_regularizer",
           "initial_rounding_variable", "soft_weight", "hard_weight", "beta_at", "layer_output",
           "reconstruction_error", "adaround_layer", "adaround", "round_to_nearest"]


class AdaRoundConfig(MethodConfig):
    """AdaRound's options; defaults from the paper (Sec. 5: 1024 unlabelled calibration images, Adam
    with its default learning rate 1e-3 for 10k iterations, batch 32; lambda 0.01; beta annealed
    from 20 to 2; zeta 1.1, gamma -0.1 from Louizos et al.)."""

    bits: int = Field(4, ge=2, le=8, description="weight bitwidth: 2^bits grid levels")
    per_channel: bool = Field(True, description="one grid (scale, zero point) per output channel; False: one per "
                                                "layer")
    symmetric: bool = Field(False, description="a grid symmetric about zero; False: asymmetric, with a zero point")
    iterations: int = Field(10_000, ge=1, le=1_000_000, description="Adam iterations per layer")
    batch_size: int = Field(32, ge=1, description="calibration samples per iteration")
    lr: float = Field(1e-3, gt=0, description="Adam learning rate of the rounding variables V")
    reg_weight: float = Field(0.01, ge=0, description="lambda, the weight of the rounding regularizer f_reg (Eq. 24)")
    beta_start: float = Field(20.0, gt=0, description="beta of f_reg when the annealing starts (soft: any h costs "
                                                      "about the same)")
    beta_end: float = Field(2.0, gt=0, description="beta at the last iteration (hard: h is pushed to 0 or 1)")
    warmup: float = Field(0.2, ge=0, lt=1, description="fraction of the iterations run without f_reg, before "
                                                       "beta anneals")
    zeta: float = Field(1.1, gt=1, description="stretch of the rectified sigmoid's upper end (Eq. 23)")
    gamma: float = Field(-0.1, lt=0, description="stretch of its lower end (Eq. 23)")
    asymmetric: bool = Field(True, description="each layer reads the already-quantized layers' output (Eq. 25); "
                                               "False: the float model's")
    samples: int = Field(1024, ge=1, le=100_000, description="calibration samples (unlabelled)")
    split: str = Field("train", description="the task split calibration samples are drawn from")
    seed: int = Field(0, ge=0, description="seed of the calibration draw and of the iterations' batches")
    skip: list[str] = Field([], description="fnmatch patterns of layer names left at full precision")


# --- the functional core -----------------------------------------------------------------------------


def rectified_sigmoid(v: torch.Tensor, zeta: float = 1.1, gamma: float = -0.1) -> torch.Tensor:
    """h(V) of Eq. 23: a sigmoid stretched to (gamma, zeta) and clipped to [0, 1], so that 0 and 1
    are reached at finite V and the gradient does not vanish near them."""
    return torch.clamp(torch.sigmoid(v) * (zeta - gamma) + gamma, 0.0, 1.0)


def rounding_regularizer(h: torch.Tensor, beta: float) -> torch.Tensor:
    """f_reg of Eq. 24: sum(1 - |2 h - 1|^beta), 0 exactly when every h is 0 or 1."""
    return (1 - (2 * h - 1).abs().pow(beta)).sum()


def initial_rounding_variable(w: torch.Tensor, grid: Grid, zeta: float = 1.1, gamma: float = -0.1) -> torch.Tensor:
    """V such that h(V) is the fractional part of w/s: W~ starts at the float weight (inside the grid)."""
    fraction = w / grid.scale - torch.floor(w / grid.scale)
    p = ((fraction - gamma) / (zeta - gamma)).clamp(1e-6, 1 - 1e-6)
    return torch.log(p / (1 - p))


def soft_weight(w_floor: torch.Tensor, v: torch.Tensor, grid: Grid, zeta: float = 1.1,
                gamma: float = -0.1) -> torch.Tensor:
    """W~ of Eq. 22 with the rounding relaxed by h(V), on an asymmetric grid:
    s (clip(floor(W/s) + h(V) + z, 0, maxq) - z)."""
    return grid.value(torch.clamp(w_floor + rectified_sigmoid(v, zeta, gamma) + grid.zero, 0, grid.maxq))


def hard_weight(w_floor: torch.Tensor, v: torch.Tensor, grid: Grid, zeta: float = 1.1,
                gamma: float = -0.1) -> torch.Tensor:
    """The final weight: round up where h(V) >= 1/2, down elsewhere (after annealing h is 0 or 1)."""
    up = (rectified_sigmoid(v, zeta, gamma) >= 0.5).to(w_floor.dtype)
    return grid.value(torch.clamp(w_floor + up + grid.zero, 0, grid.maxq))


def round_to_nearest(layer: nn.Module, grid: Grid) -> torch.Tensor:
    """The baseline: each weight of `layer` rounded to its nearest grid value, shaped as the weight."""
    return grid.round(weight_matrix(layer).detach()).reshape(layer.weight.shape)


def beta_at(iteration: int, iterations: int, warmup: float, beta_start: float, beta_end: float) -> float | None:
    """beta at `iteration` (0-based): None (f_reg off) during the warm-up, then linear from beta_start
    to beta_end over the remaining iterations."""
    start = int(warmup * iterations)
    if iteration < start:
        return None
    progress = (iteration - start) / max(1, iterations - 1 - start)
    return beta_end + (beta_start - beta_end) * max(0.0, 1.0 - progress)


def layer_output(layer: nn.Module, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The layer applied to x with another weight (same bias, stride, padding, ...)."""
    if type(layer) is nn.Linear:
        return F.linear(x, weight, layer.bias)
    return layer._conv_forward(x, weight, layer.bias)


def reconstruction_error(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||W x - W~ x~||^2 per sample: squared error summed over the output channels (axis 1), averaged
    over samples and positions."""
    return (output - target).pow(2).sum(dim=1).mean()


@dataclass
class LayerReport:
    """One layer's result: reconstruction error with round-to-nearest and with AdaRound (on all the
    calibration inputs the layer read), and the share of weights rounded otherwise than to nearest."""

    nearest_error: float
    adaround_error: float
    flipped: float


def adaround_layer(layer: nn.Module, grid: Grid, x: torch.Tensor, target: torch.Tensor, config: AdaRoundConfig,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, LayerReport]:
    """Learn the rounding of one layer's weight: minimise reconstruction_error(layer(x; W~), target)
    + lambda f_reg(h(V)) over V with Adam, batches of `config.batch_size` rows of x (samples) drawn
    from `generator`, then round hard. `x` is what the layer reads (from the quantized model in the
    asymmetric variant), `target` the float layer's output on the float model's input. Returns the
    quantized weight (shaped as layer.weight, on the grid) and the layer's report."""
    c = config
    w = weight_matrix(layer).detach()
    w_floor = torch.floor(w / grid.scale)
    v = initial_rounding_variable(w, grid, c.zeta, c.gamma).requires_grad_(True)
    optimizer = torch.optim.Adam([v], lr=c.lr)
    shape = layer.weight.shape
    rows = len(x)
    offset = w_floor + grid.zero  # the grid integer below each weight
    for iteration in range(c.iterations):
        index = torch.randint(rows, (min(c.batch_size, rows),), generator=generator)
        h = rectified_sigmoid(v, c.zeta, c.gamma)
        soft = grid.value(torch.clamp(offset + h, 0, grid.maxq))  # soft_weight, with h computed once
        loss = reconstruction_error(layer_output(layer, x[index], soft.reshape(shape)), target[index])
        beta = beta_at(iteration, c.iterations, c.warmup, c.beta_start, c.beta_end)
        if beta is not None and c.reg_weight > 0:
            loss = loss + c.reg_weight * rounding_regularizer(h, beta)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        quantized = hard_weight(w_floor, v, grid, c.zeta, c.gamma).reshape(shape)
        nearest = round_to_nearest(layer, grid)
        report = LayerReport(
            nearest_error=float(reconstruction_error(layer_output(layer, x, nearest), target)),
            adaround_error=float(reconstruction_error(layer_output(layer, x, quantized), target)),
            flipped=float((quantized != nearest).float().mean()))
    return quantized, report


@dataclass
class AdaRoundResult:
    """What `.run` returns: the model (quantized in place, the same object) and each layer's report."""

    model: nn.Module = field(repr=False)
    layers: dict[str, LayerReport] = field(default_factory=dict)

    def __repr__(self) -> str:
        rows = ", ".join(f"{name}: {r.nearest_error:.3g} -> {r.adaround_error:.3g}" for name, r in self.layers.items())
        return f"AdaRoundResult(reconstruction error nearest -> adaround {{{rows}}})"


def adaround(model: nn.Module, data, config: AdaRoundConfig, *, calibration: torch.Tensor | None = None
             ) -> dict[str, LayerReport]:
    """Quantize every compressible layer of `model` in place, in registration order (the order of
    the forward pass in a sequential model), and attach each layer's grid. `calibration` (inputs)
    replaces the draw from `data`."""
    c = config
    x = calibration if calibration is not None else calibration_inputs(data, c.samples, split=c.split, seed=c.seed)
    layers = compressible_layers(model, skip=c.skip)
    float_seen = capture(model, layers, x, outputs=True)  # targets: the float model's layer outputs
    generator = torch.Generator().manual_seed(c.seed)
    reports = {}
    for name, layer in layers.items():
        reads = capture(model, [name], x)[name].inputs if c.asymmetric else float_seen[name].inputs
        grid = fit_grid(weight_matrix(layer), c.bits, per_channel=c.per_channel, symmetric=c.symmetric)
        with torch.enable_grad():
            quantized, reports[name] = adaround_layer(layer, grid, reads, float_seen[name].outputs, c, generator)
        with torch.no_grad():
            layer.weight.copy_(quantized)
        attach_grid(layer, grid)
    return reports


# --- the method -------------------------------------------------------------------------------------


class AdaRound(Method):
    """AdaRound (Nagel et al., 2020): post-training weight quantization with learned rounding.

    A procedure-like method: `zoo.method("adaround", bits=4).run(model, data)` quantizes a trained
    model in place from unlabelled calibration inputs of `data` (a task name, Task or arrays), no
    training run involved. It is structural: the model records it (zoo.save writes it to
    config.json) and each quantized layer carries its grid in buffers, which zoo.load re-creates
    before loading the saved weights, so a loaded model holds the same grid values."""

    name = "adaround"
    Config = AdaRoundConfig
    structural = True
    standalone = True  # run(model, data) after training; zoo.train refuses it before touching the model
    layer_types = (nn.Linear, nn.Conv1d, nn.Conv2d)

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        if not compressible_layers(model, skip=self.config.skip):
            return ("a Linear or plain (ungrouped, zero-padded) Conv1d/Conv2d layer to quantize"
                    + (f" outside skip={self.config.skip}" if self.config.skip else ""))
        return None

    def prepare(self, model) -> None:
        """Give each layer to be quantized its grid buffers (placeholders until run() or a load fills them)."""
        for layer in compressible_layers(model, skip=self.config.skip).values():
            attach_grid(layer, bits=self.config.bits)

    def run(self, model: nn.Module, data, *, calibration: torch.Tensor | None = None) -> AdaRoundResult:
        """Quantize `model` in place from `data`'s calibration inputs (`calibration`: given inputs
        instead); returns the per-layer reports."""
        from zoo.training.data import as_task

        task = None if isinstance(data, torch.Tensor) else as_task(data)
        self.require(model, task)
        apply_structural(model, [self])
        reports = adaround(model, task if task is not None else data, self.config, calibration=calibration)
        return AdaRoundResult(model, reports)

