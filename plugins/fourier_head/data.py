"""The toy conditional distributions of the Fourier head paper (Gillman et al., 2024, Sec. 4.1):
learn p(z | x, y) over 50 bins of [-1, 1] from samples, where the true distribution is known.

- `gaussian`: x ~ U(-0.8, 0.8), y ~ N(x, 0.01), z ~ N(y, 0.01) (variance 0.01);
- `gmm2`: x, y ~ U(-0.8, 0.8), z ~ N(x, 0.01) or N(y, 0.01) with probability 1/2 each;
- `beta`: x ~ U(-0.8, 0.8), y ~ N(x, 0.01), z = s * Beta(100|x|, 100|y|) with a random sign s.

As in the paper's code, x, y and z are quantised into 50 bins of [-1, 1] (values outside fall in
the end bins); the model's input is the two bin indices (as floats), its target the bin of z;
5000 samples, 80% for training and 20% for testing. The true pmf of each test sample is the
density of z given its unquantised (x, y) at the bin centres, normalised over the bins (the paper's
target for its KL divergence).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta as beta_distribution
from scipy.stats import norm

from zoo.tasks import ArrayTask

__all__ = ["DATASETS", "toy_samples", "true_pmfs", "quantize", "toy_task"]

DATASETS = ("gaussian", "gmm2", "beta")
VARIANCE = 0.01


def quantize(values: np.ndarray, num_bins: int) -> np.ndarray:
    """Index of the bin of [-1, 1] each value falls in (outside values: the end bins)."""
    edges = np.linspace(-1.0, 1.0, num_bins + 1)
    return np.clip(np.digitize(values, edges) - 1, 0, num_bins - 1)


def toy_samples(name: str, n: int, seed: int) -> np.ndarray:
    """(n, 3) samples (x, y, z) of dataset `name`."""
    if name not in DATASETS:
        raise ValueError(f"unknown toy dataset {name!r}; expected one of {DATASETS}")
    rng = np.random.default_rng(seed)
    sd = np.sqrt(VARIANCE)
    x = rng.uniform(-0.8, 0.8, n)
    if name == "gmm2":
        y = rng.uniform(-0.8, 0.8, n)
        z = rng.normal(np.where(rng.uniform(size=n) < 0.5, x, y), sd)
    else:
        y = rng.normal(x, sd)
        if name == "gaussian":
            z = rng.normal(y, sd)
        else:
            z = rng.choice([1.0, -1.0], size=n) * rng.beta(100 * np.abs(x), 100 * np.abs(y))
    return np.stack([x, y, z], axis=1)


def true_pmfs(name: str, conditions: np.ndarray, num_bins: int) -> np.ndarray:
    """(n, num_bins): the density of z given each row (x, y) of `conditions` at the bin centres,
    normalised over the bins."""
    edges = np.linspace(-1.0, 1.0, num_bins + 1)
    centres = (edges[:-1] + edges[1:]) / 2
    x, y = conditions[:, :1], conditions[:, 1:2]
    sd = np.sqrt(VARIANCE)
    if name == "gaussian":
        density = norm.pdf(centres, y, sd)
    elif name == "gmm2":
        density = 0.5 * norm.pdf(centres, x, sd) + 0.5 * norm.pdf(centres, y, sd)
    elif name == "beta":
        # z = s * B with s = +-1 equally likely: half the Beta density at |z|
        density = 0.5 * beta_distribution.pdf(np.abs(centres), 100 * np.abs(x), 100 * np.abs(y))
    else:
        raise ValueError(f"unknown toy dataset {name!r}; expected one of {DATASETS}")
    density = np.nan_to_num(density, nan=0.0, posinf=0.0)
    return density / density.sum(axis=1, keepdims=True)


def toy_task(name: str, n_samples: int = 5000, num_bins: int = 50, seed: int = 0) -> ArrayTask:
    """The classification task of dataset `name`: inputs the bins of (x, y), target the bin of z.
    `task.true_pmf` holds the true pmf of every test sample; `task.test_conditions` their (x, y)."""
    samples = toy_samples(name, n_samples, seed)
    order = np.random.default_rng(seed + 1).permutation(n_samples)
    n_test = n_samples // 5
    test, train = samples[order[:n_test]], samples[order[n_test:]]

    def split(rows):
        return quantize(rows[:, :2], num_bins).astype(np.float32), quantize(rows[:, 2], num_bins).astype(np.int64)

    task = ArrayTask(f"fourier-head/{name}", "classification", {"train": split(train), "test": split(test)},
                     num_classes=num_bins, extra={"num_bins": num_bins, "variance": VARIANCE})
    task.true_pmf = true_pmfs(name, test[:, :2], num_bins)
    task.test_conditions = test[:, :2]
    return task
