"""`neural-ode/spirals`: noisy 2-D spirals, observed on the first part of a time grid and
extrapolated on the rest (the latent ODE experiment of the paper, Sec. 5.1, at small scale).

Each trajectory is an Archimedean spiral r = a + b * theta, turning clockwise or anticlockwise from
a random start angle, sampled at `steps` equally spaced times over 1.5 turns; the first
`observed` points get Gaussian noise (std `noise`) and are the model's input, the whole clean
trajectory is the target. Samples are (observations (observed, 2), times (steps,), trajectory
(steps, 2)).

The loss is the negative ELBO of a latent model's output (a dict with the posterior "mean" and
"logvar", see `LatentODE`) under a Gaussian likelihood of std `likelihood_std` (the authors'
example uses 0.3), or the MSE on the observed steps for a model that returns a trajectory tensor.
Metrics: `interpolation_mse` on observed steps and `extrapolation_mse` after them, against the
clean spiral.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["SpiralsTask", "spirals"]


def spirals(count: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(times (steps,), clean trajectories (count, steps, 2))."""
    times = np.linspace(0.0, 3 * np.pi, steps)
    a = rng.uniform(0.0, 0.5, (count, 1))
    b = 0.3
    start = rng.uniform(0, 2 * np.pi, (count, 1))
    direction = rng.choice([-1.0, 1.0], (count, 1))
    theta = start + direction * times[None, :]
    radius = a + b * times[None, :]
    return times, np.stack([radius * np.cos(theta), radius * np.sin(theta)], axis=-1)


def _metrics(observed: int):
    import torch
    from torchmetrics import Metric

    class SpiralMSE(Metric):
        full_state_update = False

        def __init__(self, part: str):
            super().__init__()
            self.part = part
            self.add_state("total", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("count", default=torch.tensor(0.0, dtype=torch.float64), dist_reduce_fx="sum")

        def update(self, output, target) -> None:
            pred = output["trajectory"] if isinstance(output, dict) else output
            window = slice(0, observed) if self.part == "interpolation" else slice(observed, None)
            err = (pred[:, window] - target[:, window]).double() ** 2
            self.total += err.sum()
            self.count += err.numel()

        def compute(self):
            return (self.total / self.count).float()

    return {"interpolation_mse": SpiralMSE("interpolation"), "extrapolation_mse": SpiralMSE("extrapolation")}


class SpiralsTask(Task):
    """Options: num_spirals, steps, observed, noise, likelihood_std, seed (80/10/10 split)."""

    kind = "forecasting"

    def __init__(self, num_spirals: int = 1000, steps: int = 60, observed: int = 40, noise: float = 0.05,
                 likelihood_std: float = 0.3, seed: int = 0):
        if num_spirals < 10 or not 2 <= observed < steps:
            raise ValueError(f"need num_spirals >= 10 and 2 <= observed < steps, got {num_spirals}, {observed}, {steps}")
        if noise < 0 or likelihood_std <= 0:
            raise ValueError(f"noise must be >= 0 and likelihood_std > 0, got {noise}, {likelihood_std}")
        self.name = "neural-ode/spirals"
        self.num_spirals, self.steps, self.observed = num_spirals, steps, observed
        self.noise, self.likelihood_std, self.seed = noise, likelihood_std, seed
        self.info = TaskInfo(kind=self.kind, input_shape=(observed, 2), output_dim=2,
                             extra={"steps": steps, "observed": observed, "obs_dim": 2})
        self._splits = None

    def splits(self) -> dict:
        if self._splits is None:
            rng = np.random.default_rng(self.seed)
            times, clean = spirals(self.num_spirals, self.steps, rng)
            noisy = clean[:, : self.observed] + rng.normal(0, self.noise, clean[:, : self.observed].shape)
            grid = np.broadcast_to(times, (self.num_spirals, self.steps))
            cut1, cut2 = int(0.8 * self.num_spirals), int(0.9 * self.num_spirals)
            parts = {"train": slice(0, cut1), "val": slice(cut1, cut2), "test": slice(cut2, None)}
            self._splits = {k: ArraySplit(noisy[s], grid[s], clean[s]) for k, s in parts.items()}
        return self._splits

    def inputs(self, batch) -> tuple:
        return (batch[0], batch[1])

    def targets(self, batch):
        return batch[2]

    def loss(self, output, batch):
        if isinstance(output, dict) and "mean" in output:
            from .model import negative_elbo

            return negative_elbo(output, batch[0], self.likelihood_std)
        pred = output["trajectory"] if isinstance(output, dict) else output
        return ((pred[:, : self.observed] - batch[0]) ** 2).mean()

    def metrics(self) -> dict:
        return _metrics(self.observed)
