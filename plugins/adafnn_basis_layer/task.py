"""`adafnn-basis-layer/leading` and `adafnn-basis-layer/minor`: scalar regression on random curves,
after the simulations of Yao et al. (2021, Sec. 5).

Each input is a curve X(t) = sum_{k=1..20} c_k phi_k(t) + e(t) seen on an equally spaced grid of
[0, 1] (`curves.random_curves`), phi the Fourier basis, c_k ~ N(0, k^-2) (variances decay as in a
smooth process), e measurement noise. With z_k = c_k / sd(c_k) the standardised score of component
k, the target depends on two components only:

    y = z_a + (z_b^2 - 1) / sqrt(2) + eps,   eps ~ N(0, target_noise^2).

- `leading`: (a, b) = (1, 2), the two components of largest variance: what FPCA keeps first.
- `minor`: (a, b) = (7, 9), two components of small variance (1/49 and 1/81 of the first), which a
  few leading principal components miss: the setting where a-priori bases are weak.
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

from .curves import observation_grid, random_curves

__all__ = ["FunctionalRegressionTask", "SETTINGS", "COMPONENTS", "make_functional_data"]

COMPONENTS = 20
SETTINGS = {"leading": (1, 2), "minor": (7, 9)}


def component_variances(count: int = COMPONENTS) -> np.ndarray:
    """lambda_k = k^-2, k = 1..count."""
    return 1.0 / np.arange(1, count + 1, dtype=np.float64) ** 2


def make_functional_data(n: int, setting: str, rng: np.random.Generator, *, grid_points: int = 51,
                         curve_noise: float = 0.05, target_noise: float = 0.1):
    """Curves (n, grid_points), targets (n,), coefficients (n, COMPONENTS) of one setting."""
    if setting not in SETTINGS:
        raise ValueError(f"setting must be one of {sorted(SETTINGS)}, got {setting!r}")
    variances = component_variances()
    curves, coefficients = random_curves(n, observation_grid(grid_points), rng, variances=variances,
                                         noise=curve_noise)
    a, b = SETTINGS[setting]
    z = coefficients / np.sqrt(variances)
    y = z[:, a - 1] + (z[:, b - 1] ** 2 - 1) / np.sqrt(2) + target_noise * rng.normal(size=n)
    return curves, y, coefficients


class FunctionalRegressionTask(Task):
    """Options: setting ("leading" or "minor"), train / val / test sizes, grid_points (observation
    grid), curve_noise (sd of the measurement noise on each grid value), target_noise (sd of eps), seed."""

    kind = "regression"

    def __init__(self, setting: str = "minor", train: int = 1000, val: int = 500, test: int = 2000,
                 grid_points: int = 51, curve_noise: float = 0.05, target_noise: float = 0.1, seed: int = 0,
                 name: str | None = None):
        if setting not in SETTINGS:
            raise ValueError(f"setting must be one of {sorted(SETTINGS)}, got {setting!r}")
        for label, size in (("train", train), ("val", val), ("test", test)):
            if not isinstance(size, int) or size < 1:
                raise ValueError(f"{label} size must be an integer >= 1, got {size!r}")
        if not isinstance(grid_points, int) or not 4 <= grid_points <= 10000:
            raise ValueError(f"grid_points must be an integer in [4, 10000], got {grid_points!r}")
        if not (curve_noise >= 0 and target_noise >= 0):
            raise ValueError(f"curve_noise and target_noise must be >= 0, got {curve_noise!r}, {target_noise!r}")
        self.name = name or f"adafnn-basis-layer/{setting}"
        self.setting, self.seed, self.grid = setting, seed, observation_grid(grid_points)
        self.sizes = {"train": train, "val": val, "test": test}
        rng = np.random.default_rng(seed)
        curves, y, coefficients = make_functional_data(train + val + test, setting, rng, grid_points=grid_points,
                                                       curve_noise=curve_noise, target_noise=target_noise)
        self.curves, self.y, self.coefficients = curves, y, coefficients
        self.info = TaskInfo(kind=self.kind, input_shape=(grid_points,), output_dim=1,
                             extra={"grid_points": grid_points, "setting": setting,
                                    "relevant_components": list(SETTINGS[setting])})
        self._splits = None

    def split_arrays(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """{"train" | "val" | "test": (curves, targets (n, 1))} as float64 numpy arrays."""
        a, b = self.sizes["train"], self.sizes["train"] + self.sizes["val"]
        cut = {"train": slice(0, a), "val": slice(a, b), "test": slice(b, None)}
        return {k: (self.curves[s], self.y[s, None]) for k, s in cut.items()}

    def splits(self) -> dict:
        if self._splits is None:
            self._splits = {k: ArraySplit(x, y) for k, (x, y) in self.split_arrays().items()}
        return self._splits

    def loss(self, output, batch):
        from zoo.tasks import mse

        return mse(output, batch[1])

    def metrics(self) -> dict:
        from zoo.tasks import standard_metrics

        return standard_metrics("regression")
