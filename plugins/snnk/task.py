"""`snnk/teacher`: a generated regression whose inputs are wide enough for SNNK's parameter savings to
show. Inputs x ~ U[-1, 1]^d; the target is a fixed random one-hidden-layer teacher network,
y = v^T tanh(U x + c) / sqrt(h) + noise, standardised on the training split. Seeded: the teacher and
the samples come from `seed`."""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArrayTask

__all__ = ["teacher_data", "teacher_task"]


def teacher_data(n: int, rng: np.random.Generator, *, features: int, hidden: int, teacher_rng=None) -> tuple:
    """(x (n, features), y (n,)) from a random tanh teacher (its weights from `teacher_rng`, else `rng`)."""
    teacher_rng = teacher_rng or rng
    u = teacher_rng.normal(0.0, 2.0 / np.sqrt(features), (hidden, features))
    c = teacher_rng.normal(0.0, 0.5, hidden)
    v = teacher_rng.normal(0.0, 1.0, hidden)
    x = rng.uniform(-1.0, 1.0, (n, features))
    return x, np.tanh(x @ u.T + c) @ v / np.sqrt(hidden)


def teacher_task(name: str = "snnk/teacher", *, n_train: int = 2000, n_test: int = 1000, features: int = 32,
                 hidden: int = 16, noise: float = 0.05, seed: int = 0) -> ArrayTask:
    """Train / test splits of the teacher regression, targets (n, 1) standardised by the training split."""
    for label, value, low, high in (("n_train", n_train, 10, 10**6), ("n_test", n_test, 1, 10**6),
                                    ("features", features, 1, 4096), ("hidden", hidden, 1, 4096)):
        if not isinstance(value, int) or not low <= value <= high:
            raise ValueError(f"{label} must be an int in [{low}, {high}], got {value!r}")
    if not 0.0 <= noise <= 10.0:
        raise ValueError(f"noise must be in [0, 10] (std relative to the target's), got {noise!r}")
    teacher = np.random.default_rng([seed, 0])
    x, y = teacher_data(n_train + n_test, np.random.default_rng([seed, 1]), features=features, hidden=hidden,
                        teacher_rng=teacher)
    y = y + noise * y.std() * np.random.default_rng([seed, 2]).normal(size=len(y))
    mean, std = y[:n_train].mean(), y[:n_train].std()
    y = ((y - mean) / std).reshape(-1, 1)
    splits = {"train": (x[:n_train].astype(np.float32), y[:n_train].astype(np.float32)),
              "test": (x[n_train:].astype(np.float32), y[n_train:].astype(np.float32))}
    return ArrayTask(name, "regression", splits, extra={"features": features, "teacher_hidden": hidden,
                                                         "noise": noise, "seed": seed})
