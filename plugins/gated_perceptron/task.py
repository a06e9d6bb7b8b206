"""`gated-perceptron/xor`: noisy XOR, the textbook data a single plain perceptron cannot separate.

Four Gaussian clusters of equal size centred on (+-1, +-1) with standard deviation `noise`; the
label is 1 where the centre's coordinates have the same sign (x_1 x_2 > 0 at the centre) and 0
otherwise. No line separates the classes (a linear unit gets at most about 3 of 4 clusters right),
while the sign of x_1 x_2, one gated input, separates them up to the clusters' overlap. Seeded;
train / val / test drawn independently.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["xor_data", "xor_task"]

CENTRES = np.array([[1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [-1.0, 1.0]])
LABELS = np.array([1, 1, 0, 0])


def xor_data(n: int, rng: np.random.Generator, noise: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """`n` points (float32 (n, 2)) around the four XOR centres and their labels (int64 (n,))."""
    if not isinstance(n, (int, np.integer)) or n < 4:
        raise ValueError(f"n must be an integer >= 4 (one point per cluster), got {n!r}")
    if not 0.0 < noise <= 2.0:
        raise ValueError(f"noise must be in (0, 2] (cluster std; the centres are 2 apart), got {noise!r}")
    cluster = rng.permutation(np.arange(n) % 4)
    x = CENTRES[cluster] + rng.normal(0.0, noise, (n, 2))
    return x.astype(np.float32), LABELS[cluster].astype(np.int64)


def xor_task(train: int = 400, val: int = 200, test: int = 400, noise: float = 0.3, seed: int = 0) -> ArrayTask:
    """The task `gated-perceptron/xor`: sizes of each split, cluster std `noise`, `seed`."""
    rng = np.random.default_rng(seed)
    splits = {name: xor_data(size, rng, noise) for name, size in (("train", train), ("val", val), ("test", test))}
    return ArrayTask("gated-perceptron/xor", "classification", splits, num_classes=2,
                     extra={"noise": noise, "seed": seed, "class_names": ["x1*x2 < 0", "x1*x2 > 0"]})
