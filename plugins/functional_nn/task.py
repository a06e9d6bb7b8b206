"""`functional-nn/shifted-signals`: classify smooth EEG-like curves by the shape of a short signal
whose timing varies, after the simulations of Heinrichs, Heim & Weber (2023).

Each sample is a curve on an equally spaced grid of [0, 1]: a smooth random background (20 Fourier
components with variances k^-2, from the shared generator `adafnn_basis_layer.curves`), measurement
noise, and one class-specific waveform of width `width` centred at a time tau ~ U[0.5 - jitter,
0.5 + jitter]:

    class 0: a Gaussian bump            g(u) = exp(-u^2 / (2 w^2))
    class 1: a biphasic wave            -(u / w) exp(1/2 - u^2 / (2 w^2))        (zero mean)
    class 2: a Ricker ("Mexican hat")   (1 - u^2 / w^2) exp(-u^2 / (2 w^2))      (zero mean)

times `amplitude`. Two regimes, set by `jitter`:

- the default `jitter = 0.35` (tau ~ U[0.15, 0.85]), a shift-invariance stress test: the signal may sit
  anywhere, so its place carries no information and, two of the waveforms having zero mean, any model
  that is not shift invariant (a linear model of basis coefficients included) stays near chance;
- a small jitter (e.g. 0.05), time-locked signals with latency jitter as in EEG event-related
  potentials: the signal sits near t = 0.5, so a linear functional of the curve sees it too.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo
from zoo_plugins.adafnn_basis_layer.curves import observation_grid, random_curves

__all__ = ["ShiftedSignalTask", "waveform", "make_shifted_signals", "CLASSES", "MAX_JITTER"]

CLASSES = ("bump", "biphasic", "ricker")
MAX_JITTER = 0.35  # centres stay in [0.15, 0.85], so every waveform lies inside the domain


def waveform(kind: str, u: np.ndarray, width: float) -> np.ndarray:
    """The class waveform at offsets u from its centre (peak height 1)."""
    r = u / width
    if kind == "bump":
        return np.exp(-r ** 2 / 2)
    if kind == "biphasic":
        return -r * np.exp(0.5 - r ** 2 / 2)
    if kind == "ricker":
        return (1 - r ** 2) * np.exp(-r ** 2 / 2)
    raise ValueError(f"waveform kind must be one of {CLASSES}, got {kind!r}")


def make_shifted_signals(n: int, rng: np.random.Generator, *, grid_points: int = 128, amplitude: float = 1.0,
                         width: float = 0.02, noise: float = 0.1, background: float = 1.0,
                         jitter: float = MAX_JITTER):
    """Curves (n, grid_points), labels (n,), signal centres (n,) ~ U[0.5 - jitter, 0.5 + jitter]."""
    if not 0 <= jitter <= MAX_JITTER:
        raise ValueError(f"jitter must be in [0, {MAX_JITTER}] (half-range of the signal centres around 0.5), "
                         f"got {jitter!r}")
    grid = observation_grid(grid_points)
    curves, _ = random_curves(n, grid, rng, variances=background ** 2 / np.arange(1, 21) ** 2, noise=noise)
    labels = rng.integers(0, len(CLASSES), n)
    centres = rng.uniform(0.5 - jitter, 0.5 + jitter, n)
    for c, kind in enumerate(CLASSES):
        rows = labels == c
        curves[rows] += amplitude * waveform(kind, grid[None] - centres[rows, None], width)
    return curves, labels, centres


class ShiftedSignalTask(Task):
    """Options: train / val / test sizes, grid_points, amplitude (signal peak), width (signal scale, as a
    share of the domain), noise (sd of the measurement noise), background (scale of the smooth
    background), jitter (signal centres uniform on 0.5 +- jitter; the default 0.35 places them anywhere
    in [0.15, 0.85], a small value time-locks them as event-related potentials), seed."""

    kind = "classification"

    def __init__(self, train: int = 1000, val: int = 500, test: int = 2000, grid_points: int = 128,
                 amplitude: float = 1.0, width: float = 0.02, noise: float = 0.1, background: float = 1.0,
                 jitter: float = MAX_JITTER, seed: int = 0, name: str = "functional-nn/shifted-signals"):
        for label, size in (("train", train), ("val", val), ("test", test)):
            if not isinstance(size, int) or size < 1:
                raise ValueError(f"{label} size must be an integer >= 1, got {size!r}")
        if not isinstance(grid_points, int) or not 16 <= grid_points <= 100000:
            raise ValueError(f"grid_points must be an integer in [16, 100000], got {grid_points!r}")
        if not 0 < width <= 0.2:
            raise ValueError(f"width must be in (0, 0.2] (a share of the domain), got {width!r}")
        if not (amplitude >= 0 and noise >= 0 and background >= 0):
            raise ValueError(f"amplitude, noise and background must be >= 0, got {amplitude!r}, {noise!r}, "
                             f"{background!r}")
        self.jitter = jitter  # validated by make_shifted_signals
        self.name, self.seed, self.grid = name, seed, observation_grid(grid_points)
        self.sizes = {"train": train, "val": val, "test": test}
        curves, labels, centres = make_shifted_signals(train + val + test, np.random.default_rng(seed),
                                                       grid_points=grid_points, amplitude=amplitude, width=width,
                                                       noise=noise, background=background, jitter=jitter)
        self.curves, self.labels, self.centres = curves, labels, centres
        self.info = TaskInfo(kind=self.kind, input_shape=(1, grid_points), output_dim=len(CLASSES),
                             num_classes=len(CLASSES), extra={"grid_points": grid_points, "classes": list(CLASSES),
                                                                   "jitter": jitter})
        self._splits = None

    def split_arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{"train" | "val" | "test": (curves (n, 1, J), labels (n,))}."""
        a, b = self.sizes["train"], self.sizes["train"] + self.sizes["val"]
        cut = {"train": slice(0, a), "val": slice(a, b), "test": slice(b, None)}
        return {k: (self.curves[s, None], self.labels[s]) for k, s in cut.items()}

    def splits(self) -> dict:
        if self._splits is None:
            self._splits = {k: ArraySplit(x, y) for k, (x, y) in self.split_arrays().items()}
        return self._splits

    def loss(self, output, batch):
        from zoo.tasks import cross_entropy

        return cross_entropy(output, batch[1])

    def metrics(self) -> dict:
        from zoo.tasks import standard_metrics

        return standard_metrics("classification", num_classes=len(CLASSES))
