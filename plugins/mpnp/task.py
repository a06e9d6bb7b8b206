"""`mpnp/gp-rbf`: meta-learning 1D functions drawn from Gaussian-process priors with an RBF kernel,
the 1D regression benchmark of the neural-process literature used by Lee et al. (ICLR 2023, Sec. 5).

Each sample is one function seen at N = n_context + n_target points x ~ U[-2, 2]:
y = f(x) + noise, f ~ GP(0, s^2 exp(-(x - x')^2 / (2 l^2))) with, per function, l ~ U[0.1, 0.6] and
s ~ U[0.1, 1.0], noise sd 0.02 (a small jitter). n_context ~ U{3, ..., 47} and n_target ~
U{3, ..., 50 - n_context}; points beyond n_context + n_target are padding. A sample is
(x (50, 1), y (50, 1), role (50,)) with role 1 for context, 2 for target and 0 for padding.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["GPTask", "sample_gp_batch", "rbf_kernel", "MAX_POINTS", "CONTEXT", "TARGET"]

MAX_POINTS, CONTEXT, TARGET = 50, 1, 2


def rbf_kernel(x: np.ndarray, lengthscale: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """s^2 exp(-(x_i - x_j)^2 / (2 l^2)) for a batch: x (B, N), l and s (B,) -> (B, N, N)."""
    d = x[:, :, None] - x[:, None, :]
    return scale[:, None, None] ** 2 * np.exp(-d ** 2 / (2 * lengthscale[:, None, None] ** 2))


def sample_gp_batch(batch: int, rng: np.random.Generator, *, lengthscale=(0.1, 0.6), scale=(0.1, 1.0),
                    noise: float = 0.02, min_context: int = 3, max_points: int = MAX_POINTS):
    """(x (B, P, 1), y (B, P, 1), role (B, P) int64) of `batch` GP functions (P = max_points)."""
    if not (0 < lengthscale[0] <= lengthscale[1] and 0 < scale[0] <= scale[1] and noise >= 0):
        raise ValueError(f"need 0 < low <= high for lengthscale {lengthscale} and scale {scale}, noise >= 0 "
                         f"(got {noise})")
    if not 1 <= min_context <= max_points // 2 - 3:
        raise ValueError(f"min_context must be in [1, {max_points // 2 - 3}], got {min_context}")
    x = rng.uniform(-2.0, 2.0, (batch, max_points))
    ls, s = rng.uniform(*lengthscale, batch), rng.uniform(*scale, batch)
    cov = rbf_kernel(x, ls, s) + (noise ** 2 + 1e-6) * np.eye(max_points)
    y = np.einsum("bij,bj->bi", np.linalg.cholesky(cov), rng.normal(size=(batch, max_points)))
    n_context = rng.integers(min_context, max_points - 3 + 1, batch)
    n_target = np.array([rng.integers(3, max_points - c + 1) for c in n_context])
    index = np.arange(max_points)[None]
    role = np.where(index < n_context[:, None], CONTEXT, np.where(index < (n_context + n_target)[:, None], TARGET, 0))
    return x[..., None], y[..., None], role.astype(np.int64)


class GPTask(Task):
    """Options: train / val / test numbers of functions, lengthscale and scale ranges, noise, seed."""

    kind = "regression"

    def __init__(self, train: int = 10000, val: int = 500, test: int = 1000, lengthscale=(0.1, 0.6),
                 scale=(0.1, 1.0), noise: float = 0.02, seed: int = 0, name: str = "mpnp/gp-rbf"):
        for label, size in (("train", train), ("val", val), ("test", test)):
            if not isinstance(size, int) or not 1 <= size <= 1_000_000:
                raise ValueError(f"{label} size must be an integer in [1, 1000000], got {size!r}")
        self.name, self.seed = name, seed
        self.sizes = {"train": train, "val": val, "test": test}
        self.options = {"lengthscale": tuple(lengthscale), "scale": tuple(scale), "noise": noise}
        sample_gp_batch(1, np.random.default_rng(0), **self.options)  # validates the options now
        self.info = TaskInfo(kind=self.kind, input_shape=(MAX_POINTS, 1), output_dim=1,
                             extra={"x_dim": 1, "y_dim": 1, "max_points": MAX_POINTS})
        self._splits = None

    def splits(self) -> dict:
        if self._splits is None:
            rng = np.random.default_rng(self.seed)
            self._splits = {}
            for name, n in self.sizes.items():
                parts = [sample_gp_batch(min(1000, n - i), rng, **self.options) for i in range(0, n, 1000)]
                self._splits[name] = ArraySplit(*(np.concatenate(p) for p in zip(*parts)))
        return self._splits

    def inputs(self, batch) -> tuple:
        return (batch[0], batch[1], batch[2])

    def targets(self, batch):
        return batch[1]

    def loss(self, output, batch):
        """Mean negative log-likelihood per target point of the (mixture) predictive `output`."""
        from .model import predictive_log_likelihood

        return -predictive_log_likelihood(output, batch[1], batch[2] == TARGET).mean()
