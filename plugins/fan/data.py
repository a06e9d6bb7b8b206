"""Periodic-function tasks of the FAN paper's periodicity experiments (Sec. 4.1): train on one
interval, test how the learned function continues outside it.

`periodic/sin`: sin(x), trained on [-6 pi, 6 pi]; `periodic/mod`: x mod 5, trained on [-20, 20];
`periodic/sawtooth`: sum_{n=1..5} saw(n x) / n with saw(t) = t/pi - floor(t/pi + 1/2), trained on
[-4, 4]. The paper tests on an interval three (sin) or two (the others) times as wide; here `val`
holds in-range points and `test` only the out-of-range part of that wider interval, so the test
metrics measure extrapolation alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["PERIODIC_FUNCTIONS", "periodic_task", "periodic_arrays"]


def _sawtooth(x: np.ndarray) -> np.ndarray:
    return sum((n * x / np.pi - np.floor(n * x / np.pi + 0.5)) / n for n in range(1, 6))


# name -> (function, half-width of the training interval, test interval / training interval)
PERIODIC_FUNCTIONS: dict[str, tuple[Callable[[np.ndarray], np.ndarray], float, float]] = {
    "sin": (np.sin, 6 * math.pi, 3.0),
    "mod": (lambda x: np.mod(x, 5.0), 20.0, 2.0),
    "sawtooth": (_sawtooth, 4.0, 2.0),
}


def periodic_arrays(function: str, n_train: int = 10000, n_test: int = 4000, seed: int = 0) -> dict:
    """{"train", "val", "test"}: (x (n, 1), y (n, 1)) float32; train and val uniform in range,
    test uniform over the out-of-range part of the wider interval."""
    if function not in PERIODIC_FUNCTIONS:
        raise ValueError(f"unknown periodic function {function!r}; expected one of {sorted(PERIODIC_FUNCTIONS)}")
    fn, half, widen = PERIODIC_FUNCTIONS[function]
    rng = np.random.default_rng(seed)
    x_train = rng.uniform(-half, half, n_train)
    x_val = rng.uniform(-half, half, n_test)
    outside = rng.uniform(half, widen * half, n_test) * rng.choice([-1.0, 1.0], n_test)
    as_split = lambda x: (x[:, None].astype(np.float32), fn(x)[:, None].astype(np.float32))  # noqa: E731
    return {"train": as_split(x_train), "val": as_split(x_val), "test": as_split(outside)}


def periodic_task(function: str, **options) -> ArrayTask:
    _, half, widen = PERIODIC_FUNCTIONS[function]
    return ArrayTask(f"periodic/{function}", "regression", periodic_arrays(function, **options),
                     extra={"train_range": (-half, half), "test_range": (-widen * half, widen * half)})
