"""`nbeats/m4-like`: generated monthly series with trend and seasonality, in the M4 protocol.

Each series is y_t = level * (1 + slope * s + curve * s^2) + sum_k A_k sin(2 pi k t / 12 + phi_k)
+ noise, s = t / T, with random level, slope, curvature, 1-3 harmonics of a 12-step season and
Gaussian noise, and a random length. As in M4, the last `horizon` points of every series are the
test target and the `horizon` before them the validation target; training windows are cut from
what precedes. Every series is divided by the mean of its training part, so losses are comparable
across series; sMAPE and MASE are scale-free, so the scaling changes neither.

Samples are (lookback (L,), target (H,)); `history` keeps each series' full past before its test
window for statistical baselines and MASE's seasonal scale.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["M4LikeTask", "generate_series", "SEASON"]

SEASON = 12


def generate_series(count: int, rng: np.random.Generator, min_length: int, max_length: int) -> list[np.ndarray]:
    out = []
    for _ in range(count):
        n = int(rng.integers(min_length, max_length + 1))
        t = np.arange(n, dtype=np.float64)
        s = t / n
        level = rng.uniform(5, 20)
        trend = level * (1 + rng.uniform(-0.5, 1.0) * s + rng.uniform(-0.5, 0.5) * s**2)
        season = np.zeros(n)
        for k in rng.choice([1, 2, 3], size=rng.integers(1, 4), replace=False):
            season += rng.uniform(0.02, 0.15) * level / k * np.sin(2 * np.pi * k * t / SEASON + rng.uniform(0, 2 * np.pi))
        noise = rng.normal(0, rng.uniform(0.005, 0.04) * level, n)
        out.append(trend + season + noise)
    return out


class M4LikeTask(Task):
    """Options: num_series, horizon, input_size (lookback), min_length, max_length, seed."""

    kind = "forecasting"

    def __init__(self, num_series: int = 1000, horizon: int = 18, input_size: int = 36, min_length: int = 120,
                 max_length: int = 300, seed: int = 0):
        if horizon < 1 or input_size < 1 or num_series < 1:
            raise ValueError(f"horizon, input_size and num_series must be >= 1, got {horizon}, {input_size}, {num_series}")
        if min_length < input_size + 3 * horizon or max_length < min_length:
            raise ValueError(f"series lengths [{min_length}, {max_length}] must be ordered and leave room for "
                             f"a lookback ({input_size}) and three horizons ({horizon} each)")
        self.name = "nbeats/m4-like"
        self.horizon, self.input_size = horizon, input_size
        self.num_series, self.min_length, self.max_length, self.seed = num_series, min_length, max_length, seed
        self.info = TaskInfo(kind=self.kind, input_shape=(input_size,), output_dim=horizon,
                             extra={"horizon": horizon, "lookback": input_size, "season": SEASON})
        self._splits = None
        self.history: list[np.ndarray] = []  # per series: everything before its test window (scaled)

    def _windows(self, series: np.ndarray, ends: range):
        L, H = self.input_size, self.horizon
        x = np.stack([series[e - L:e] for e in ends])
        y = np.stack([series[e:e + H] for e in ends])
        return x, y

    def splits(self) -> dict:
        if self._splits is not None:
            return self._splits
        H, L = self.horizon, self.input_size
        parts = {"train": ([], []), "val": ([], []), "test": ([], [])}
        for series in generate_series(self.num_series, np.random.default_rng(self.seed), self.min_length, self.max_length):
            n = len(series)
            series = series / series[: n - 2 * H].mean()
            self.history.append(series[: n - H])
            for name, ends in (("train", range(L, n - 3 * H + 1)), ("val", [n - 2 * H]), ("test", [n - H])):
                x, y = self._windows(series, ends)
                parts[name][0].append(x)
                parts[name][1].append(y)
        self._splits = {name: ArraySplit(np.concatenate(x), np.concatenate(y)) for name, (x, y) in parts.items()}
        return self._splits

    def loss(self, output, batch):
        # mean absolute error: close to the paper's scale-free losses on the scaled series
        return (output - batch[1]).abs().mean()

    def metrics(self) -> dict:
        from torchmetrics import MeanAbsoluteError, MeanSquaredError, SymmetricMeanAbsolutePercentageError

        return {"smape": SymmetricMeanAbsolutePercentageError(), "mae": MeanAbsoluteError(), "mse": MeanSquaredError()}
