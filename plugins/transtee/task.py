"""`transtee/binary` and `transtee/dosage`: generated observational data with known potential
outcomes, so that effect-estimation errors (sqrt-PEHE, AMSE) can be computed.

binary (discrete treatment, two arms): x ~ N(0, I_d); the treatment is confounded,
    P(T = 1 | x) = sigmoid(confounding * (x1 + x2 - x3) / sqrt 3);
    mu_0(x) = x1 + 0.5 x2^2 + sin(2 x3) + 0.5 x6,
    tau(x) = 1 + x1 x4 + 0.5 x5^2 - 0.5 |x2|          (a heterogeneous effect with interactions),
    mu_1 = mu_0 + tau, y = mu_T(x) + N(0, noise^2).
dosage (continuous treatment in [0, 1], after the simulation of VCNet that TransTEE also uses):
    x ~ U[0, 1]^d; the dosage is confounded,
    t = sigmoid(confounding * (2 sin(3 max(x1, x2, x3)) + max(x3, x4, x5)^2 - x5 - 0.6) + N(0, 0.5^2)),
    mu(x, t) = cos(2 pi (t - 0.5)) (t^2 + 2 max(x1, x6)^3 / (1 + 2 x3^2) * sin(2 x4)) + 0.5 x2,
    y = mu(x, t) + N(0, noise^2).

Splits (train / val / test) are independent draws; batches are (x, t, y_factual). The test
units' true potential outcomes are `task.truth["test"]`: (n, 2) for binary (mu_0, mu_1), and
(n, G) on the dosage grid `task.grid` for dosage. `effect_errors` scores an estimator.
"""

from __future__ import annotations

import numpy as np
import torch

from zoo.errors import ConfigError
from zoo.tasks import ArraySplit, Task, TaskInfo, mse, standard_metrics

__all__ = ["TreatmentEffectTask", "effect_errors", "simulate_binary", "simulate_dosage", "SETTINGS"]

SETTINGS = ("binary", "dosage")
GRID = 33  # dosages at which the dose-response is scored


def _sigmoid(z):
    return 1 / (1 + np.exp(-z))


def binary_outcomes(x: np.ndarray) -> np.ndarray:
    """(n, d >= 6) -> (n, 2): mu_0(x), mu_1(x)."""
    mu0 = x[:, 0] + 0.5 * x[:, 1] ** 2 + np.sin(2 * x[:, 2]) + 0.5 * x[:, 5]
    tau = 1 + x[:, 0] * x[:, 3] + 0.5 * x[:, 4] ** 2 - 0.5 * np.abs(x[:, 1])
    return np.stack([mu0, mu0 + tau], 1)


def dosage_outcome(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    """mu(x, t) for x (n, d >= 6) and t (n,) or broadcastable (n, G)."""
    if t.ndim == 2:
        x = x[:, None, :]
    mod = 2 * np.maximum(x[..., 0], x[..., 5]) ** 3 / (1 + 2 * x[..., 2] ** 2) * np.sin(2 * x[..., 3])
    return np.cos(2 * np.pi * (t - 0.5)) * (t ** 2 + mod) + 0.5 * x[..., 1]


def simulate_binary(n: int, covariates: int, rng: np.random.Generator, confounding: float, noise: float):
    x = rng.standard_normal((n, covariates))
    p = _sigmoid(confounding * (x[:, 0] + x[:, 1] - x[:, 2]) / np.sqrt(3))
    t = (rng.random(n) < p).astype(np.int64)
    mu = binary_outcomes(x)
    y = mu[np.arange(n), t] + noise * rng.standard_normal(n)
    return x.astype(np.float32), t, y.astype(np.float32), mu


def simulate_dosage(n: int, covariates: int, rng: np.random.Generator, confounding: float, noise: float,
                    grid: np.ndarray):
    x = rng.random((n, covariates))
    drive = (2 * np.sin(3 * x[:, :3].max(1)) + x[:, 2:5].max(1) ** 2 - x[:, 4] - 0.6)
    t = _sigmoid(confounding * drive + 0.5 * rng.standard_normal(n))
    y = dosage_outcome(x, t) + noise * rng.standard_normal(n)
    mu = dosage_outcome(x, np.broadcast_to(grid, (n, len(grid))))
    return x.astype(np.float32), t.astype(np.float32), y.astype(np.float32), mu


class TreatmentEffectTask(Task):
    """Observational data with known potential outcomes; batches (x, t, y_factual)."""

    kind = "regression"

    def __init__(self, name: str = "transtee/binary", *, setting: str = "binary", covariates: int = 10,
                 train: int = 1000, val: int = 300, test: int = 1000, confounding: float = 1.0,
                 noise: float = 0.5, seed: int = 0):
        if setting not in SETTINGS:
            raise ConfigError(f"setting={setting!r}: expected one of {SETTINGS}")
        if covariates < 6:
            raise ConfigError(f"covariates={covariates}: the outcome models read x1..x6, so at least 6 are needed")
        for option, value in (("train", train), ("val", val), ("test", test)):
            if value < 1:
                raise ConfigError(f"{option}={value}: expected at least 1 unit")
        if confounding < 0 or noise < 0:
            raise ConfigError(f"confounding={confounding} and noise={noise} must be >= 0")
        self.name, self.setting, self.seed = name, setting, seed
        self.grid = np.linspace(0, 1, GRID)
        self.sizes = {"train": train, "val": val, "test": test}
        self._splits, self.truth = {}, {}
        for offset, (split, n) in enumerate(self.sizes.items()):
            rng = np.random.default_rng(np.random.SeedSequence([seed, offset]))
            if setting == "binary":
                x, t, y, mu = simulate_binary(n, covariates, rng, confounding, noise)
            else:
                x, t, y, mu = simulate_dosage(n, covariates, rng, confounding, noise, self.grid)
            self._splits[split] = ArraySplit(x, t, y)
            self.truth[split] = mu
        self.info = TaskInfo(kind="regression", input_shape=(covariates,), output_dim=1, extra={
            "covariates": covariates, "treatment": "discrete" if setting == "binary" else "continuous",
            "num_treatments": 2, "setting": setting})

    def splits(self) -> dict:
        return dict(self._splits)

    def inputs(self, batch) -> tuple:
        return batch[0], batch[1]

    def targets(self, batch):
        return batch[2]

    def loss(self, output, batch):
        return mse(output[0], batch[2])

    def metrics(self) -> dict:
        from torchmetrics.wrappers import LambdaInputTransformer

        return {name: LambdaInputTransformer(metric, transform_pred=lambda out: out[0][:, None],
                                             transform_target=lambda y: y[:, None])
                for name, metric in standard_metrics("regression").items()}


@torch.no_grad()
def effect_errors(model, task: TreatmentEffectTask, split: str = "test") -> dict[str, float]:
    """binary: sqrt-PEHE = sqrt(mean((tau_hat - tau)^2)) and |ATE_hat - ATE|; dosage: AMSE, the mean
    over the grid of (E_x mu_hat(x, t) - E_x mu(x, t))^2 (the average dose-response curve), and
    MISE, the mean over units and grid of (mu_hat(x, t) - mu(x, t))^2."""
    model.eval()
    x = task.splits()[split].tensors[0]
    truth = task.truth[split]
    if task.setting == "binary":
        arms = torch.arange(2)
        estimate = np.stack([model(x, arm.expand(len(x)))[0].double().numpy() for arm in arms], 1)
        tau_hat, tau = estimate[:, 1] - estimate[:, 0], truth[:, 1] - truth[:, 0]
        return {"sqrt_pehe": float(np.sqrt(np.mean((tau_hat - tau) ** 2))),
                "ate_error": float(abs(tau_hat.mean() - tau.mean()))}
    dosages = torch.tensor(task.grid, dtype=torch.float32)
    estimate = np.stack([model(x, d.expand(len(x)))[0].double().numpy() for d in dosages], 1)
    return {"amse": float(np.mean((estimate.mean(0) - truth.mean(0)) ** 2)),
            "mise": float(np.mean((estimate - truth) ** 2))}
