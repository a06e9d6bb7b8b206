"""`forecast/mackey-glass`: multi-step forecasting of the Mackey-Glass chaotic series, generated in code.

dx/dt = beta x(t - tau) / (1 + x(t - tau)^n) - gamma x(t), with beta=0.2, gamma=0.1, n=10, tau=17
(the classic chaotic setting), integrated by Euler steps of 0.1 and sampled every `sample_every`
time units. Windows of `lookback` past values predict the next `horizon` values. Splits are
chronological (60/20/20; the targets of a split lie inside its segment) and values are
standardised with the training segment's mean and std, so no future information leaks into training.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["mackey_glass", "mackey_glass_task"]


def mackey_glass(length: int, *, tau: float = 17.0, beta: float = 0.2, gamma: float = 0.1, n: float = 10.0,
                 dt: float = 0.1, sample_every: float = 1.0, x0: float = 1.2, warmup: int = 500) -> np.ndarray:
    """`length` samples of the Mackey-Glass series (after `warmup` discarded samples), float64."""
    stride = round(sample_every / dt)
    delay = round(tau / dt)
    steps = (length + warmup) * stride
    x = np.empty(steps + delay + 1)
    x[: delay + 1] = x0  # constant history before t = 0
    for i in range(delay, delay + steps):
        lagged = x[i - delay]
        x[i + 1] = x[i] + dt * (beta * lagged / (1.0 + lagged ** n) - gamma * x[i])
    return x[delay + 1 + warmup * stride:: stride][:length]


def mackey_glass_task(name: str = "forecast/mackey-glass", *, lookback: int = 24, horizon: int = 12,
                      length: int = 3000, sample_every: float = 2.0) -> ArrayTask:
    for label, value, low in (("lookback", lookback, 1), ("horizon", horizon, 1), ("length", length, 50)):
        if not isinstance(value, int) or value < low:
            raise ValueError(f"{label} must be an int >= {low}, got {value!r}")
    if length < 5 * (lookback + horizon):
        raise ValueError(f"length={length} is too short for lookback={lookback} and horizon={horizon}; "
                         f"need at least {5 * (lookback + horizon)}")
    if not isinstance(sample_every, (int, float)) or not sample_every >= 0.1:
        raise ValueError(f"sample_every must be >= 0.1 time units (the integration step), got {sample_every!r}")
    series = mackey_glass(length, sample_every=sample_every)
    cut_val, cut_test = int(0.6 * length), int(0.8 * length)
    series = (series - series[:cut_val].mean()) / series[:cut_val].std()
    windows = np.lib.stride_tricks.sliding_window_view(series, lookback + horizon)
    x, y = windows[:, :lookback, None], windows[:, lookback:]
    first_target = np.arange(len(windows)) + lookback
    parts = {"train": first_target + horizon <= cut_val,
             "val": (first_target >= cut_val) & (first_target + horizon <= cut_test),
             "test": first_target >= cut_test}
    return ArrayTask(name, "forecasting", {split: (x[mask], y[mask]) for split, mask in parts.items()},
                     extra={"lookback": lookback, "horizon": horizon, "features": 1, "sample_every": sample_every})
