"""Multi-stage training (Wang & Lai, 2023): fit the target, then fit each residue with a new network.

The functional core needs no zoo.train:

    eps = residue_scale(residue)                   # eps_k, the residue's RMS (Eq. 2.2: e_k / eps_k is O(1))
    f_d = dominant_frequency(x_hat, residue)       # peak of the residue's discrete Fourier transform
    kappa = kappa_for(f_d)                         # 2 pi f_d: the first-layer scale of the next stage (Sec. 2.2)
    relative_l2(prediction, target)                # ||u_c - u_g|| / ||u_g||, the paper's error measure

`MultistageNN.run(model, data)` is the procedure (Sec. 2.1-2.2): for k = 0 .. n-1, stage k's network
(`model.stages[k]` of a `multistage-net` composite) is initialised (Xavier normal, zero biases), given
kappa_k (1 for k = 0) and trained on e_k / eps_k, where e_0 = u_g and e_k = u_g - sum_{j<k} eps_j u_j,
with Adam and then L-BFGS in float64; each optimiser phase is one zoo.train run (a resumable stage of
the procedure). The composite u_c = sum_k eps_k u_k (Eq. 2.3) is the model itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import torch
from torch import nn

from zoo.config import Field
from zoo.errors import ConfigError, ConfigTypeError
from zoo.training.method import Method, MethodConfig, MethodMismatchError

from .model import MultistageNet

__all__ = ["MultistageNNConfig", "MultistageNN", "MultistageResult", "StageResult", "residue_scale",
           "dominant_frequency", "kappa_for", "relative_l2", "normalized_inputs", "training_arrays"]

LBFGS_ITERATIONS_PER_STEP = 20  # torch.optim.LBFGS's max_iter, which zoo.train's "lbfgs" optimizer keeps
ADAM_STEPS_PER_EPOCH = 500  # full-batch steps per zoo.train epoch: a checkpoint every 500 steps, not every step
LBFGS_STEPS_PER_EPOCH = 25  # 500 L-BFGS iterations per epoch
PROCEDURE_OWNS = ("epochs", "max_steps", "batch_size", "lr", "optimizer", "shuffle", "loss", "schedule")


class MultistageNNConfig(MethodConfig):
    adam_steps: int = Field(3000, ge=0, le=10**7, description=(
        "full-batch Adam steps of the first stage (the authors' code: 3000)"))
    later_adam_steps: int = Field(5000, ge=0, le=10**7, description=(
        "full-batch Adam steps of every later stage (the authors' code: 5000)"))
    adam_lr: float = Field(1e-3, gt=0, description="Adam learning rate (TensorFlow's default, as the authors' code)")
    lbfgs_iterations: int = Field(3333, ge=0, le=10**8, description=(
        "L-BFGS iterations of the first stage; stage k (1-based) runs k times as many (the authors' code: "
        "max_iterations = nIter / 3 with nIter = 10000 k)"))
    scale_rule: Literal["rms", "max"] = Field("rms", description=(
        "eps_k: rms, the residue's root-mean-square (the paper); max, max|e_k| / 2 (the authors' code)"))


# --- the functional core -------------------------------------------------------------------------------


def residue_scale(residue: torch.Tensor, rule: str = "rms") -> float:
    """eps_k: the magnitude the residue is divided by, so the next stage fits an O(1) target."""
    if rule == "max":
        return float(residue.abs().max()) / 2
    return float(residue.pow(2).mean().sqrt())


def normalized_inputs(x: torch.Tensor, lower: torch.Tensor, upper: torch.Tensor) -> torch.Tensor:
    """x mapped to [-1, 1] per axis, the coordinates every stage network sees."""
    return 2.0 * (x - lower) / (upper - lower) - 1.0


def _uniform_1d(x_hat: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, float]:
    """The residue on a uniform grid over the data's range (interpolated if the points are not one)."""
    order = np.argsort(x_hat)
    xs, vs = x_hat[order], values[order]
    grid = np.linspace(xs[0], xs[-1], len(xs))
    if not np.allclose(xs, grid, rtol=0, atol=1e-9 * max(1.0, xs[-1] - xs[0])):
        vs = np.stack([np.interp(grid, xs, vs[:, j]) for j in range(vs.shape[1])], axis=1)
    return vs, (grid[-1] - grid[0]) / max(len(grid) - 1, 1)


def dominant_frequency(x_hat: torch.Tensor, residue: torch.Tensor) -> float:
    """f_d: the frequency (cycles per unit of the normalised coordinates) where the residue's discrete
    Fourier transform peaks, over non-negative frequencies; several outputs add their magnitudes.
    1D: any points (interpolated onto a uniform grid if needed). d >= 2: the points must form a full
    tensor grid; the peak's frequency is the largest of its per-axis frequencies (the authors' code)."""
    x_np = x_hat.detach().cpu().double().numpy()
    r_np = residue.detach().cpu().double().numpy().reshape(len(x_np), -1)
    if x_np.shape[1] == 1:
        values, spacing = _uniform_1d(x_np[:, 0], r_np)
        magnitude = np.abs(np.fft.rfft(values, axis=0)).sum(axis=1)
        freqs = np.fft.rfftfreq(len(values), d=spacing)
        return float(freqs[int(np.argmax(magnitude))])
    axes = [np.unique(x_np[:, j]) for j in range(x_np.shape[1])]
    shape = tuple(len(a) for a in axes)
    if int(np.prod(shape)) != len(x_np):
        raise ConfigError(f"multistage-nn reads the residue's dominant frequency by an FFT: inputs in "
                          f"{x_np.shape[1]} dimensions must lie on a full tensor grid ({len(x_np)} points, "
                          f"{shape} distinct values per axis)")
    index = tuple(np.searchsorted(a, x_np[:, j]) for j, a in enumerate(axes))
    grid = np.zeros(shape + (r_np.shape[1],))
    grid[index] = r_np
    magnitude = np.abs(np.fft.fftn(grid, axes=tuple(range(len(shape))))).sum(axis=-1)
    freqs = [np.fft.fftfreq(n, d=(a[-1] - a[0]) / max(n - 1, 1)) for n, a in zip(shape, axes)]
    keep = np.ix_(*[f >= 0 for f in freqs])
    positive = magnitude[keep]
    peak = np.unravel_index(int(np.argmax(positive)), positive.shape)
    return float(max(f[f >= 0][i] for f, i in zip(freqs, peak)))


def kappa_for(frequency: float) -> float:
    """kappa = 2 pi f_d, the first-layer scale that puts sin(kappa W x + b) at the residue's frequency
    for W of order 1 (Sec. 2.2); a peak at frequency 0 gives 2 pi (the authors' code)."""
    return 2 * math.pi * frequency if frequency > 0 else 2 * math.pi


def relative_l2(prediction: torch.Tensor, target: torch.Tensor) -> float:
    """||prediction - target||_2 / ||target||_2 over the points: the paper's error measure."""
    return float(torch.linalg.vector_norm(prediction - target) / torch.linalg.vector_norm(target))


def training_arrays(task) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets) of the training split of `task` (arrays, a dict of splits, a Task)."""
    from zoo.training.data import as_task

    split = as_task(task).splits()["train"]
    if isinstance(split, (tuple, list)) and len(split) == 2:
        x, y = split
    elif hasattr(split, "tensors"):
        x, y = split.tensors[:2]
    else:
        pairs = [split[i] for i in range(len(split))]
        x, y = torch.stack([torch.as_tensor(p[0]) for p in pairs]), torch.stack([torch.as_tensor(p[1]) for p in pairs])
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    if y.dim() == 1:
        y = y.unsqueeze(1)
    return x.reshape(len(x), -1), y.reshape(len(y), -1)


def _mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return (output - target).pow(2).mean()  # in the model's dtype (the zoo's mse casts to float32)


def _repeated(x: torch.Tensor, y: torch.Tensor, times: int):
    """The training set repeated `times`: with shuffle off and batch = one copy, an epoch is `times`
    full-batch steps (so zoo.train checkpoints every `times` steps instead of every step)."""
    from zoo.tasks import ArraySplit

    return {"train": ArraySplit(x.repeat(times, 1), y.repeat(times, 1), float_dtype=x.dtype)}


# --- the procedure's result ----------------------------------------------------------------------------


@dataclass
class StageResult:
    """One stage: kappa and eps it was built with, and the composite's relative L2 error on the
    training points after it (train_error)."""

    stage: int
    kappa: float
    scale: float
    frequency: float
    train_error: float
    adam_loss: float = float("nan")
    lbfgs_loss: float = float("nan")


@dataclass
class MultistageResult:
    """What the procedure returns: `model` is the composite (the object passed in, trained)."""

    model: nn.Module = field(repr=False)
    stages: list[StageResult] = field(default_factory=list)

    @property
    def train_error(self) -> float:
        return self.stages[-1].train_error if self.stages else float("nan")


# --- the method ----------------------------------------------------------------------------------------


class MultistageNN(Method):
    """Multi-stage neural networks (Wang & Lai, 2023): a procedure, `run(model, data, ...)`, on a
    `multistage-net` composite (zoo.create("multistage-net", stages=4, task=...))."""

    name = "multistage-nn"
    Config = MultistageNNConfig
    task_kinds = ("regression",)

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        if not isinstance(model, MultistageNet):
            return "a multistage-net composite model (zoo.create('multistage-net', stages=4, task=...))"
        return None

    def lbfgs_iterations(self, stage: int) -> int:
        """L-BFGS iterations of stage `stage` (0-based): (stage + 1) * lbfgs_iterations."""
        return (stage + 1) * self.config.lbfgs_iterations

    def run(self, model, task, *, out_dir=None, resume: bool = False, overwrite: bool = False,
            seed: int = 0, **train_options) -> MultistageResult:
        """Train the composite's stages in turn (see the module docstring) on the training split of
        `task` (arrays (x, y), a dict of splits, or a regression Task). With out_dir, each optimiser
        phase is a run named stage-<k>-adam / stage-<k>-lbfgs and resume=True continues where it stopped.
        `train_options` go to zoo.train (device, progress, ...); the procedure sets the schedule itself."""
        from zoo.training.data import as_task
        from zoo.training.procedure import Stages

        if not isinstance(model, nn.Module):
            raise ConfigTypeError(f"multistage-nn runs on a multistage-net model, got {type(model).__name__}")
        owned = sorted(set(train_options) & set(PROCEDURE_OWNS))
        if owned:
            raise ConfigError(f"multistage-nn sets {owned} itself (Adam then L-BFGS, full batch); set its options "
                              f"adam_steps, later_adam_steps, adam_lr, lbfgs_iterations instead")
        task_obj = as_task(task)
        self.require(model, task_obj)
        dtype = model.scales.dtype
        x, y = training_arrays(task_obj)
        x, y = x.to(dtype), y.to(dtype)
        if x.shape[1] != model.config.in_features or y.shape[1] != model.config.out_features:
            raise MethodMismatchError(f"method 'multistage-nn': the model takes {model.config.in_features} inputs "
                                      f"and gives {model.config.out_features} outputs, the data has "
                                      f"{x.shape[1]} and {y.shape[1]}")
        lower, upper = x.min(0).values, x.max(0).values
        x_hat = normalized_inputs(x, lower, upper)
        options = {"eval_splits": [], "final_splits": [], "seed": seed, "shuffle": False, "progress": False,
                   **train_options}
        result = MultistageResult(model=model)
        with Stages(out_dir, resume, procedure=self, overwrite=overwrite) as stages:
            for k, net in enumerate(model.stages):
                with torch.no_grad():
                    residue = y - model.partial(x, k)
                frequency = dominant_frequency(x_hat, residue) if k > 0 else 0.0
                kappa = kappa_for(frequency) if k > 0 else 1.0
                scale = residue_scale(residue, self.config.scale_rule)
                if scale == 0:  # the earlier stages fit exactly: nothing left for this one
                    break
                net.initialize(torch.Generator().manual_seed(seed * 1009 + k))
                with torch.no_grad():
                    net.kappa.fill_(kappa)
                    net.lower.copy_(lower)
                    net.upper.copy_(upper)
                    model.scales[k] = 0.0
                target = residue / scale
                adam = self.config.adam_steps if k == 0 else self.config.later_adam_steps
                stage = StageResult(stage=k, kappa=kappa, scale=scale, frequency=frequency, train_error=float("nan"))
                if adam:
                    ran = stages.train(f"stage-{k}-adam", net, _repeated(x, target, min(adam, ADAM_STEPS_PER_EPOCH)),
                                       loss=_mse, optimizer="adam", lr=self.config.adam_lr, batch_size=len(x),
                                       epochs=math.ceil(adam / ADAM_STEPS_PER_EPOCH), max_steps=adam, **options)
                    stage.adam_loss = ran.history[-1]["train_loss"]
                steps = math.ceil(self.lbfgs_iterations(k) / LBFGS_ITERATIONS_PER_STEP)
                if steps:
                    ran = stages.train(f"stage-{k}-lbfgs", net, _repeated(x, target, min(steps, LBFGS_STEPS_PER_EPOCH)),
                                       loss=_mse, optimizer="lbfgs", lr=1.0, batch_size=len(x),
                                       epochs=math.ceil(steps / LBFGS_STEPS_PER_EPOCH), max_steps=steps, **options)
                    stage.lbfgs_loss = ran.history[-1]["train_loss"]
                with torch.no_grad():
                    model.scales[k] = scale
                    stage.train_error = relative_l2(model.partial(x, k + 1), y)
                result.stages.append(stage)
        return result
