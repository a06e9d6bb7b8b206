"""The toy functions of the KAN paper (arXiv:2404.19756, Sec. 3.1, Fig. 3.1), as regression tasks.

Like the authors' `create_dataset` in pykan, inputs are drawn uniformly on [-1, 1]^n, 1000 for
training and 1000 for testing (each drawn separately from a seeded generator), and targets have
shape (n, 1). No noise is added.
"""

from __future__ import annotations

import math

from zoo.tasks import ArrayTask

__all__ = ["TOY_FUNCTIONS", "toy_task"]


def _bessel(x):
    import torch

    return torch.special.bessel_j0(20 * x[:, 0])


def _exp_sin(x):
    import torch

    return torch.exp(torch.sin(math.pi * x[:, 0]) + x[:, 1] ** 2)


def _xy(x):
    return x[:, 0] * x[:, 1]


def _exp_sum_sin2(x):
    import torch

    return torch.exp(torch.sin(math.pi * x / 2).pow(2).mean(dim=1))


def _four_var(x):
    import torch

    return torch.exp(0.5 * (torch.sin(math.pi * (x[:, 0] ** 2 + x[:, 1] ** 2))
                            + torch.sin(math.pi * (x[:, 2] ** 2 + x[:, 3] ** 2))))


# name -> (number of variables, function of a (n, vars) tensor, formula)
TOY_FUNCTIONS = {
    "toy/bessel-j0": (1, _bessel, "J0(20 x)"),
    "toy/exp-sin": (2, _exp_sin, "exp(sin(pi x) + y^2)"),
    "toy/xy": (2, _xy, "x y"),
    "toy/exp-sum-sin2-100d": (100, _exp_sum_sin2, "exp(1/100 sum_i sin^2(pi x_i / 2)), i = 1..100"),
    "toy/four-var": (4, _four_var, "exp(1/2 (sin(pi (x1^2 + x2^2)) + sin(pi (x3^2 + x4^2))))"),
}


def toy_task(name: str, *, n_train: int = 1000, n_test: int = 1000, seed: int = 0) -> ArrayTask:
    """One of TOY_FUNCTIONS sampled uniformly on [-1, 1]^n (float32, targets (n, 1))."""
    import torch

    for label, value in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{label} must be a positive int, got {value!r}")
    n_vars, function, formula = TOY_FUNCTIONS[name]
    generator = torch.Generator().manual_seed(seed)
    splits = {}
    for split, count in (("train", n_train), ("test", n_test)):
        x = torch.rand(count, n_vars, generator=generator, dtype=torch.float64) * 2 - 1
        splits[split] = (x, function(x).unsqueeze(1))
    return ArrayTask(name, "regression", splits,
                     extra={"formula": formula, "domain": [[-1.0, 1.0]] * n_vars, "seed": seed})
