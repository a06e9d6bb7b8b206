"""Tasks of `multiplet-nn`, on positive inputs (multiplet neurons take powers and logs of them).

- `multiplet/xor`: the four XOR points with inputs and targets shifted from {0, 1} to {1, 2};
  the training split repeats them (`repeats` times), the test split is the four points.
- `multiplet/multiply`, `multiplet/divide`: x ~ U[low, high]^2, target x1 x2 or x1 / x2; train and
  test from the range; `task.extrapolation` holds (x, y) from U[high, 2 high]^2, outside the training
  range, to see whether the operation was represented or only fitted.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["XOR_INPUTS", "XOR_TARGETS", "xor_task", "arithmetic_task", "OPERATIONS"]

XOR_INPUTS = np.array([[1.0, 1.0], [1.0, 2.0], [2.0, 1.0], [2.0, 2.0]], dtype=np.float32)  # {0, 1} shifted by 1
XOR_TARGETS = np.array([[1.0], [2.0], [2.0], [1.0]], dtype=np.float32)  # XOR + 1: outputs are means too
OPERATIONS = {"multiply": np.multiply, "divide": np.divide}


def xor_task(name: str = "multiplet/xor", *, repeats: int = 64) -> ArrayTask:
    if not isinstance(repeats, int) or not 1 <= repeats <= 10000:
        raise ValueError(f"repeats must be an int in [1, 10000], got {repeats!r}")
    train = (np.tile(XOR_INPUTS, (repeats, 1)), np.tile(XOR_TARGETS, (repeats, 1)))
    return ArrayTask(name, "regression", {"train": train, "test": (XOR_INPUTS, XOR_TARGETS)},
                     extra={"encoding": "XOR inputs and targets {0, 1} shifted to {1, 2}"})


def arithmetic_task(operation: str, name: str | None = None, *, n_train: int = 1000, n_test: int = 500,
                    low: float = 0.5, high: float = 2.0, seed: int = 0) -> ArrayTask:
    if operation not in OPERATIONS:
        raise ValueError(f"operation must be one of {sorted(OPERATIONS)}, got {operation!r}")
    for label, value in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(value, int) or not 1 <= value <= 10**6:
            raise ValueError(f"{label} must be an int in [1, 1000000], got {value!r}")
    if not 0 < low < high <= 1e3:
        raise ValueError(f"need 0 < low < high <= 1000 (inputs must be positive), got low={low!r}, high={high!r}")
    rng = np.random.default_rng(seed)
    op = OPERATIONS[operation]

    def sample(n, a, b):
        x = rng.uniform(a, b, (n, 2)).astype(np.float32)
        return x, op(x[:, :1], x[:, 1:]).astype(np.float32)

    splits = {"train": sample(n_train, low, high), "test": sample(n_test, low, high)}
    extrapolation = sample(n_test, high, 2 * high)
    task = ArrayTask(name or f"multiplet/{operation}", "regression", splits,
                     extra={"operation": operation, "range": [low, high], "extrapolation_range": [high, 2 * high],
                            "seed": seed})
    task.extrapolation = extrapolation
    return task
