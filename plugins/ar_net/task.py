"""`ar-net/ar3` and `ar-net/sparse-ar3`: forecasting the next value of a generated stationary AR(p)
process from a window of its last values, as in the AR-Net paper's experiments (Sec. 4).

The process is y_t = sum_{i=1..order} a_i y_{t-i} + e_t, e_t ~ N(0, noise^2). Its coefficients are
drawn as in the authors' generator: uniform in [-1, 1], scaled to an absolute sum of 0.5 to 1 when
it exceeds 1, then centred on their mean, redrawn until the process is stationary (all roots of
1 - sum a_i z^i outside the unit circle). A burn-in is dropped, the series is centred, and each
sample is (the `window` last values, lag 1 first; the next value). The window may be longer than
the order: the coefficients beyond the order are then 0 (`coefficients` holds all `window` of
them), the setting in which the paper tests sparse recovery. Splits are consecutive in time:
train, then val, then test.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["ARProcessTask", "draw_ar_coefficients", "simulate_ar", "lag_matrix"]

BURN_IN = 1000


def draw_ar_coefficients(order: int, rng: np.random.Generator, tries: int = 1000) -> np.ndarray:
    """Stationary AR coefficients a_1..a_order, drawn like the authors' generator."""
    for _ in range(tries):
        a = rng.uniform(-1.0, 1.0, order)
        total = np.abs(a).sum()
        if total > 1:
            a = a / (total + 1e-5) * (0.5 + 0.5 * rng.uniform())
        a = a - a.mean() if order > 1 else a
        roots = np.roots(np.r_[1.0, -a][::-1]) if order else np.array([])
        if np.all(np.abs(roots) > 1.0 + 1e-6):
            return a
    raise RuntimeError(f"no stationary AR({order}) coefficients found in {tries} draws")


def simulate_ar(coefficients: np.ndarray, length: int, rng: np.random.Generator, noise: float = 1.0) -> np.ndarray:
    """`length` values of y_t = sum_i a_i y_{t-i} + e_t after a burn-in of BURN_IN values."""
    from scipy.signal import lfilter

    e = rng.normal(0.0, noise, length + BURN_IN)
    y = lfilter([1.0], np.r_[1.0, -np.asarray(coefficients, dtype=np.float64)], e)
    return y[BURN_IN:]


def lag_matrix(series: np.ndarray, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows (y_{t-1}, ..., y_{t-window}) and targets y_t for every t with a full window."""
    from numpy.lib.stride_tricks import sliding_window_view

    views = sliding_window_view(series[:-1], window)[:, ::-1]
    return np.ascontiguousarray(views), series[window:]


class ARProcessTask(Task):
    """Options: order (true AR order), window (p, lags the model sees), train / val / test sizes,
    noise (std of e_t), seed."""

    kind = "forecasting"

    def __init__(self, order: int = 3, window: int = 10, train: int = 100_000, val: int = 12_500,
                 test: int = 12_500, noise: float = 1.0, seed: int = 0, name: str = "ar-net/ar3"):
        if not (isinstance(order, int) and isinstance(window, int) and 1 <= order <= window):
            raise ValueError(f"order and window must be integers with 1 <= order <= window, got {order!r}, {window!r}")
        if min(train, val, test) < 1:
            raise ValueError(f"train, val and test sizes must be >= 1, got {train}, {val}, {test}")
        if not noise > 0:
            raise ValueError(f"noise must be > 0, got {noise}")
        self.name, self.order, self.window, self.noise, self.seed = name, order, window, noise, seed
        self.sizes = {"train": train, "val": val, "test": test}
        rng = np.random.default_rng(seed)
        true = draw_ar_coefficients(order, rng)
        self.coefficients = np.r_[true, np.zeros(window - order)]
        series = simulate_ar(true, window + train + val + test, rng, noise)
        self.series = series - series.mean()
        self.info = TaskInfo(kind=self.kind, input_shape=(window,), output_dim=1,
                             extra={"lookback": window, "horizon": 1, "order": order})
        self._splits = None

    def splits(self) -> dict:
        if self._splits is None:
            x, y = lag_matrix(self.series, self.window)
            a, b = self.sizes["train"], self.sizes["train"] + self.sizes["val"]
            self._splits = {"train": ArraySplit(x[:a], y[:a, None]), "val": ArraySplit(x[a:b], y[a:b, None]),
                            "test": ArraySplit(x[b:], y[b:, None])}
        return self._splits

    def loss(self, output, batch):
        from zoo.tasks import mse

        return mse(output, batch[1])

    def metrics(self) -> dict:
        from zoo.tasks import standard_metrics

        return standard_metrics("forecasting")
