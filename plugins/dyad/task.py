"""`dyad/oscillator`: forecasting damped harmonic oscillators whose physical parameters vary, with
test systems whose parameters lie outside the training ranges (DyAd's setting, Wang et al.
NeurIPS 2022, at small scale on a dynamics.py system).

Each parameter set (omega, zeta) gets one trajectory from a random initial state (the shared
generator `zoo_plugins.tasks.dynamics.trajectories`, dt `dt`, observation noise `noise`), cut
into `windows` consecutive samples of `lookback` input steps and `horizon` target steps. Training
and validation parameters are uniform in the training ranges (omega in [0.5, 1.5], zeta in
[0, 0.2] by default); the test split's parameters are uniform in the unseen ranges (omega in
[1.5, 2.0], zeta in [0.2, 0.3]): systems the model never saw. `task.in_range_test` holds a test set
with training-range parameters. Samples are (x (lookback, 2), y (horizon, 2), c (2,)) with c the
parameters standardised by the training ranges (mid-point 0, ends +-1), the weak supervision.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["OscillatorForecastTask", "standardise", "TRAIN_RANGES", "UNSEEN_RANGES"]

SYSTEM = "damped-oscillator"
TRAIN_RANGES = {"omega": (0.5, 1.5), "zeta": (0.0, 0.2)}
UNSEEN_RANGES = {"omega": (1.5, 2.0), "zeta": (0.2, 0.3)}


def standardise(params: list[dict], ranges: dict) -> np.ndarray:
    """Parameters (n, 2) in [-1, 1] over `ranges` (order omega, zeta)."""
    return np.array([[(p[k] - sum(ranges[k]) / 2) / ((ranges[k][1] - ranges[k][0]) / 2) for k in ("omega", "zeta")]
                     for p in params])


class OscillatorForecastTask(Task):
    """Options: n_train / n_val / n_test (parameter sets), windows per trajectory, lookback, horizon,
    dt, noise, seed."""

    kind = "forecasting"

    def __init__(self, n_train: int = 300, n_val: int = 50, n_test: int = 100, windows: int = 2, lookback: int = 20,
                 horizon: int = 20, dt: float = 0.2, noise: float = 0.01, seed: int = 0, name: str = "dyad/oscillator"):
        for label, value, low in (("n_train", n_train, 1), ("n_val", n_val, 1), ("n_test", n_test, 1),
                                  ("windows", windows, 1), ("lookback", lookback, 4), ("horizon", horizon, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= 100_000:
                raise ValueError(f"{label} must be an int in [{low}, 100000], got {value!r}")
        if not (isinstance(dt, (int, float)) and 0 < dt <= 10):
            raise ValueError(f"dt must be a number in (0, 10], got {dt!r}")
        if not (isinstance(noise, (int, float)) and 0 <= noise < 10):
            raise ValueError(f"noise must be a number in [0, 10), got {noise!r}")
        from zoo_plugins.tasks.dynamics import trajectories

        self.name, self.seed, self.lookback, self.horizon = name, seed, lookback, horizon
        rng = np.random.default_rng(seed)
        span = lookback + horizon

        def build(count: int, ranges: dict) -> ArraySplit:
            paths, params = trajectories(SYSTEM, count, windows * span, dt, rng, ranges=ranges, noise=noise)
            cut = paths.reshape(count * windows, span, 2)
            codes = np.repeat(standardise(params, TRAIN_RANGES), windows, axis=0)
            return ArraySplit(cut[:, :lookback], cut[:, lookback:], codes)

        self._splits = {"train": build(n_train, TRAIN_RANGES), "val": build(n_val, TRAIN_RANGES),
                        "test": build(n_test, UNSEEN_RANGES)}
        self.in_range_test = build(n_test, TRAIN_RANGES)
        self.info = TaskInfo(kind=self.kind, input_shape=(lookback, 2), output_dim=horizon * 2,
                             extra={"lookback": lookback, "horizon": horizon, "channels": 2, "param_dim": 2,
                                    "train_ranges": TRAIN_RANGES, "unseen_ranges": UNSEEN_RANGES})

    def splits(self) -> dict:
        return dict(self._splits)

    def loss(self, output, batch):
        from zoo.tasks import mse

        return mse(output, batch[1])

    def metrics(self) -> dict:
        from zoo.tasks import standard_metrics

        return standard_metrics("forecasting")
