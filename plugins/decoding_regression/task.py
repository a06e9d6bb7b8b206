"""Tasks of `decoding-regression`.

- `decoding-regression/make-regression`: sklearn's make_regression (a linear target of `informative`
  of `features` Gaussian features, Gaussian noise), features and target standardised with the
  training split's statistics; random 64 / 16 / 20 split.
- `decoding-regression/bimodal`: a target with a two-mode conditional density. x is uniform in
  [-1, 1]^2, f(x) = sin(pi x_1) + x_2 / 2, and y = f(x) + s * gap / 2 + noise * e with s = +-1 equally
  likely and e ~ N(0, 1): p(y | x) has two modes f(x) +- gap/2, and the conditional mean f(x) lies
  between them, where there is almost no data. `bimodal_modes` and `bimodal_log_density` give the
  true modes and the true log density (the best score any model can reach).
Seeded; options are validated.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["make_regression_task", "bimodal_data", "bimodal_task", "bimodal_modes", "bimodal_log_density"]

FRACTIONS = (0.64, 0.16, 0.2)


def _split(n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    order = rng.permutation(n)
    a, b = int(FRACTIONS[0] * n), int((FRACTIONS[0] + FRACTIONS[1]) * n)
    return {"train": order[:a], "val": order[a:b], "test": order[b:]}


def _check_size(n, least: int = 20) -> None:
    if not isinstance(n, (int, np.integer)) or n < least:
        raise ValueError(f"n must be an integer >= {least} (it is split 64/16/20), got {n!r}")


def make_regression_task(n: int = 1000, features: int = 10, informative: int = 5, noise: float = 10.0,
                         seed: int = 0) -> ArrayTask:
    """sklearn make_regression, standardised (target in units of its training std)."""
    from sklearn.datasets import make_regression

    _check_size(n)
    if not (isinstance(features, int) and isinstance(informative, int) and 1 <= informative <= features <= 1000):
        raise ValueError(f"need integers 1 <= informative <= features <= 1000, got {informative!r}, {features!r}")
    if not 0.0 <= noise <= 1e4:
        raise ValueError(f"noise must be in [0, 1e4], got {noise!r}")
    x, y = make_regression(n_samples=n, n_features=features, n_informative=informative, noise=noise,
                           random_state=seed)
    parts = _split(n, np.random.default_rng(seed))
    train = parts["train"]
    x = (x - x[train].mean(0)) / x[train].std(0)
    mean, std = float(y[train].mean()), float(y[train].std())
    y = ((y - mean) / std).reshape(-1, 1)
    splits = {k: (x[i].astype(np.float32), y[i].astype(np.float32)) for k, i in parts.items()}
    return ArrayTask("decoding-regression/make-regression", "regression", splits,
                     extra={"seed": seed, "target_mean": mean, "target_std": std, "noise": noise})


def bimodal_modes(x: np.ndarray, gap: float = 2.0) -> np.ndarray:
    """(n, 2) the two modes f(x) - gap/2, f(x) + gap/2 of p(y | x)."""
    f = np.sin(np.pi * x[:, 0]) + 0.5 * x[:, 1]
    return np.stack([f - gap / 2, f + gap / 2], axis=1)


def bimodal_log_density(x: np.ndarray, y: np.ndarray, gap: float = 2.0, noise: float = 0.1) -> np.ndarray:
    """(n,) the true log p(y | x): an equal mixture of N(mode, noise^2) at the two modes."""
    modes = bimodal_modes(x, gap)
    z = (np.asarray(y).reshape(-1, 1) - modes) / noise
    log_normal = -0.5 * z ** 2 - np.log(noise * np.sqrt(2 * np.pi))
    return np.logaddexp(log_normal[:, 0], log_normal[:, 1]) - np.log(2.0)


def bimodal_data(n: int, rng: np.random.Generator, gap: float = 2.0, noise: float = 0.1):
    """x (n, 2) float32, y (n, 1) float32 and the mode each y was drawn from (n,) (0 lower, 1 upper)."""
    _check_size(n, 1)
    if not 0.0 < gap <= 100.0:
        raise ValueError(f"gap must be in (0, 100], got {gap!r}")
    if not 0.0 < noise <= 10.0:
        raise ValueError(f"noise must be in (0, 10], got {noise!r}")
    x = rng.uniform(-1.0, 1.0, (n, 2))
    which = rng.integers(0, 2, n)
    y = bimodal_modes(x, gap)[np.arange(n), which] + noise * rng.normal(size=n)
    return x.astype(np.float32), y.reshape(-1, 1).astype(np.float32), which


def bimodal_task(n: int = 2000, gap: float = 2.0, noise: float = 0.1, seed: int = 0) -> ArrayTask:
    """The bimodal task: n points split 64/16/20, modes `gap` apart, each with std `noise`."""
    _check_size(n)
    rng = np.random.default_rng(seed)
    x, y, _ = bimodal_data(n, rng, gap, noise)
    parts = _split(n, rng)
    return ArrayTask("decoding-regression/bimodal", "regression", {k: (x[i], y[i]) for k, i in parts.items()},
                     extra={"seed": seed, "gap": gap, "noise": noise})
