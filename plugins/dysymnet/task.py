"""`dysymnet/nguyen`: the Nguyen symbolic-regression benchmarks (Uy et al. 2011), as used by DySymNet
(Li et al., ICML 2024, Table 1): recover the expression from 20 noiseless points drawn uniformly
from its range; a larger test sample from the same range scores the fit.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["NGUYEN", "NguyenTask", "nguyen_data", "truth"]

# name: (expression in x1, x2 (sympy syntax), number of variables, sampling range)
NGUYEN = {
    "nguyen-1": ("x1**3 + x1**2 + x1", 1, (-1.0, 1.0)),
    "nguyen-2": ("x1**4 + x1**3 + x1**2 + x1", 1, (-1.0, 1.0)),
    "nguyen-3": ("x1**5 + x1**4 + x1**3 + x1**2 + x1", 1, (-1.0, 1.0)),
    "nguyen-5": ("sin(x1**2)*cos(x1) - 1", 1, (-1.0, 1.0)),
    "nguyen-6": ("sin(x1) + sin(x1 + x1**2)", 1, (-1.0, 1.0)),
    "nguyen-9": ("sin(x1) + sin(x2**2)", 2, (0.0, 1.0)),
    "nguyen-10": ("2*sin(x1)*cos(x2)", 2, (0.0, 1.0)),
    "nguyen-12": ("x1**4 - x1**3 + x2**2/2 - x2", 2, (0.0, 1.0)),
}


def truth(name: str):
    """The benchmark's expression as a sympy expression in x1, x2."""
    import sympy

    if name not in NGUYEN:
        raise ValueError(f"unknown Nguyen benchmark {name!r}; expected one of {sorted(NGUYEN)}")
    x1, x2 = sympy.symbols("x1 x2")
    return sympy.sympify(NGUYEN[name][0], locals={"x1": x1, "x2": x2})


def nguyen_data(name: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """x (n, d) uniform over the benchmark's range and y = f(x) (n, 1)."""
    import sympy

    expr, dim, (low, high) = NGUYEN.get(name) or (None, None, (None, None))
    if expr is None:
        raise ValueError(f"unknown Nguyen benchmark {name!r}; expected one of {sorted(NGUYEN)}")
    x = rng.uniform(low, high, (n, dim))
    f = sympy.lambdify(sympy.symbols(f"x1:{dim + 1}"), truth(name), "numpy")
    y = np.asarray(f(*x.T), dtype=np.float64) * np.ones(n)
    return x, y[:, None]


class NguyenTask(Task):
    """Options: equation (a key of NGUYEN), train (20 in the benchmark), test, seed."""

    kind = "regression"

    def __init__(self, equation: str = "nguyen-1", train: int = 20, test: int = 1000, seed: int = 0,
                 name: str = "dysymnet/nguyen"):
        if equation not in NGUYEN:
            raise ValueError(f"unknown Nguyen benchmark {equation!r}; expected one of {sorted(NGUYEN)}")
        if not (isinstance(train, int) and isinstance(test, int) and train >= 2 and test >= 1):
            raise ValueError(f"train must be an integer >= 2 and test >= 1, got {train!r}, {test!r}")
        self.name, self.equation, self.seed = name, equation, seed
        rng = np.random.default_rng(seed)
        self.data = {"train": nguyen_data(equation, train, rng), "test": nguyen_data(equation, test, rng)}
        dim = NGUYEN[equation][1]
        self.info = TaskInfo(kind=self.kind, input_shape=(dim,), output_dim=1,
                             extra={"equation": equation, "expression": NGUYEN[equation][0]})
        self._splits = None

    def splits(self) -> dict:
        if self._splits is None:
            self._splits = {k: ArraySplit(*v) for k, v in self.data.items()}
        return self._splits

    def loss(self, output, batch):
        from zoo.tasks import mse

        return mse(output, batch[1])

    def metrics(self) -> dict:
        from zoo.tasks import standard_metrics

        return standard_metrics("regression")
