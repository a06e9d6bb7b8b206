"""`forecast/goog`: multi-step forecasting of a real series, Google's daily share price
(2004-08-19 to 2008-10-14, 1047 trading days), as shipped in matplotlib's sample data (goog.npz,
source Yahoo Finance). matplotlib is already a dependency, so nothing is downloaded.

The series is the log of the adjusted close. Each sample is a window: the last `lookback` values
are the input and the next `horizon` values the target, both relative to the last observed value
(so a model forecasts the log return from "now", and the series' level does not matter) and
divided by the std of one-day log returns on the training segment. Splits are chronological
(70/10/20): the targets of a split lie inside its segment, inputs may reach back before it.
`task.info.extra["naive_mse"]` gives the test MSE of the no-change forecast (all zeros), the
baseline any model should beat.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["goog_series", "goog_task"]


def goog_series() -> tuple[np.ndarray, np.ndarray]:
    """(dates as numpy datetime64[D], adjusted close prices) from matplotlib's bundled goog.npz."""
    from matplotlib import cbook

    with cbook.get_sample_data("goog.npz") as data:
        prices = data["price_data"]
    return prices["date"].astype("datetime64[D]"), prices["adj_close"].astype(np.float64)


def goog_task(name: str = "forecast/goog", *, lookback: int = 30, horizon: int = 5) -> ArrayTask:
    for label, value in (("lookback", lookback), ("horizon", horizon)):
        if not isinstance(value, int) or not 1 <= value <= 200:
            raise ValueError(f"{label} must be an int in [1, 200], got {value!r}")
    dates, prices = goog_series()
    series = np.log(prices)
    n = len(series)
    cut_val, cut_test = int(0.7 * n), int(0.8 * n)
    scale = float(np.diff(series[:cut_val]).std())
    span = lookback + horizon
    windows = np.lib.stride_tricks.sliding_window_view(series, span)  # window i covers [i, i + span)
    last = windows[:, lookback - 1: lookback]
    x = ((windows[:, :lookback] - last) / scale)[:, :, None]
    y = (windows[:, lookback:] - last) / scale
    first_target = np.arange(len(windows)) + lookback
    parts = {"train": first_target + horizon <= cut_val,
             "val": (first_target >= cut_val) & (first_target + horizon <= cut_test),
             "test": first_target >= cut_test}
    splits = {split: (x[mask], y[mask]) for split, mask in parts.items()}
    naive_mse = float((splits["test"][1] ** 2).mean())
    return ArrayTask(name, "forecasting", splits, extra={
        "lookback": lookback, "horizon": horizon, "features": 1, "scale": scale, "naive_mse": naive_mse,
        "source": "matplotlib sample data goog.npz (Yahoo Finance)",
        "dates": [str(dates[0]), str(dates[-1])]})
