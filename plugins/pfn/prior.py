"""`gp-prior/rbf-1d`: datasets drawn from a Gaussian-process prior, for training and testing PFNs,
and the exact GP posterior predictive to compare them with.

Each sample is one dataset of `num_points` points: x ~ U[0, 1]^x_dim, f ~ GP(0, k) with the RBF
kernel k(x, x') = outputscale * exp(-|x - x'|^2 / (2 lengthscale^2)), y = f(x) + N(0, noise_std^2).
The train split holds `train_draws` datasets per epoch, generated on access (see `PriorDraws`),
so every training step sees new prior draws and a run is repeatable; val and test are fixed
draws from other seeds. Evaluation conditions on the first `eval_train_points`
points of a dataset and scores the rest.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchmetrics import Metric

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["GPPrior", "GPPriorTask", "MeanOfOutputs", "gp_posterior_predictive"]


class GPPrior:
    """RBF-kernel GP prior over functions on [0, 1]^x_dim, with Gaussian observation noise."""

    def __init__(self, lengthscale: float = 0.2, outputscale: float = 1.0, noise_std: float = 0.1, x_dim: int = 1):
        if min(lengthscale, outputscale, noise_std) <= 0:
            raise ValueError(f"lengthscale, outputscale and noise_std must be > 0, got "
                             f"{lengthscale}, {outputscale}, {noise_std}")
        self.lengthscale, self.outputscale, self.noise_std, self.x_dim = lengthscale, outputscale, noise_std, x_dim

    def kernel(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return self.outputscale * torch.exp(-0.5 * torch.cdist(a, b).pow(2) / self.lengthscale ** 2)

    def sample(self, batch: int, num_points: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """x (batch, num_points, x_dim), y (batch, num_points), in float64 then cast to float32."""
        x = torch.rand(batch, num_points, self.x_dim, generator=generator, dtype=torch.float64)
        cov = self.kernel(x, x) + self.noise_std ** 2 * torch.eye(num_points, dtype=torch.float64)
        y = (torch.linalg.cholesky(cov) @ torch.randn(batch, num_points, 1, generator=generator,
                                                        dtype=torch.float64)).squeeze(-1)
        return x.float(), y.float()


def gp_posterior_predictive(prior: GPPrior, x_train, y_train, x_query) -> tuple[torch.Tensor, torch.Tensor]:
    """Exact mean and variance of y at the queries given the training points (noise included), (B, M)."""
    x_train, y_train, x_query = x_train.double(), y_train.double(), x_query.double()
    k_tt = prior.kernel(x_train, x_train) + prior.noise_std ** 2 * torch.eye(x_train.shape[1], dtype=torch.float64)
    k_qt = prior.kernel(x_query, x_train)
    chol = torch.linalg.cholesky(k_tt)
    alpha = torch.cholesky_solve(y_train.unsqueeze(-1), chol)
    mean = (k_qt @ alpha).squeeze(-1)
    v = torch.linalg.solve_triangular(chol, k_qt.transpose(1, 2), upper=False)
    var = prior.outputscale - v.pow(2).sum(1) + prior.noise_std ** 2
    return mean, var


class PriorDraws(torch.utils.data.Dataset):
    """Datasets drawn from a prior on access. Indexing with a list, tensor or slice of indices
    returns a whole batch, drawn at once from a generator seeded by (seed, the indices): a batch is
    a pure function of its indices, and since the trainer reshuffles indices every epoch, every
    step sees new draws."""

    batched_indexing = True

    def __init__(self, prior: GPPrior, num_points: int, length: int, seed: int):
        self.prior, self.num_points, self.length, self.seed = prior, num_points, length, seed

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index):
        batched = isinstance(index, (list, tuple, slice, torch.Tensor))
        if isinstance(index, slice):
            index = range(*index.indices(self.length))
        indices = [int(i) for i in index] if batched else [int(index)]
        if any(not 0 <= i < self.length for i in indices):
            raise IndexError(f"prior draw index out of range [0, {self.length})")
        tensors = self.draw(len(indices), int(np.random.SeedSequence([self.seed, *indices]).generate_state(1)[0]))
        return tensors if batched else tuple(t[0] for t in tensors)

    def draw(self, count: int, seed: int) -> tuple[torch.Tensor, ...]:
        """`count` datasets of the prior from `seed`, batched along the first dimension; a prior
        with another sampler overrides this."""
        return tuple(self.prior.sample(count, self.num_points, torch.Generator().manual_seed(seed)))


class MeanOfOutputs(Metric):
    """Mean of a model's per-example outputs (here: NLL per dataset); the target is ignored."""

    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("total", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, output: torch.Tensor, target=None) -> None:
        if output.dim() != 1:
            raise ValueError(f"expected one value per example, shape (batch,), got {tuple(output.shape)}")
        self.total += output.double().sum()
        self.count += output.numel()

    def compute(self) -> torch.Tensor:
        return (self.total / self.count.clamp_min(1)).float()


class GPPriorTask(Task):
    """Datasets from a GP prior: batches (x (B, N, x_dim), y (B, N))."""

    kind = "regression"

    def __init__(self, name: str = "gp-prior/rbf-1d", *, lengthscale: float = 0.2, outputscale: float = 1.0,
                 noise_std: float = 0.1, num_points: int = 30, eval_train_points: int = 20,
                 train_draws: int = 8192, test_draws: int = 1000, seed: int = 0):
        if not 1 <= eval_train_points < num_points:
            raise ValueError(f"eval_train_points must lie in [1, num_points), got {eval_train_points} "
                             f"with num_points={num_points}")
        self.name = name
        self.prior = GPPrior(lengthscale, outputscale, noise_std, x_dim=1)
        self.num_points, self.train_draws, self.test_draws, self.seed = num_points, train_draws, test_draws, seed
        self.info = TaskInfo(kind="regression", input_shape=(num_points, 1), output_dim=1, extra={
            "x_dim": 1, "num_points": num_points, "eval_train_points": eval_train_points,
            "y_std": math.sqrt(outputscale + noise_std ** 2), "lengthscale": lengthscale,
            "outputscale": outputscale, "noise_std": noise_std})

    def splits(self) -> dict:
        """train: fresh draws on access; val and test: fixed draws (independent of batch size)."""
        out = {"train": PriorDraws(self.prior, self.num_points, self.train_draws, seed=self.seed)}
        for offset, split in enumerate(("val", "test"), start=1):
            gen = torch.Generator().manual_seed(int(np.random.SeedSequence([self.seed, offset]).generate_state(1)[0]))
            out[split] = ArraySplit(*self.prior.sample(self.test_draws, self.num_points, gen))
        return out

    def inputs(self, batch) -> tuple:
        n = self.info.extra["eval_train_points"]
        x, y = batch[0], batch[1]
        return x[:, :n], y[:, :n], x[:, n:]

    def targets(self, batch):
        return batch[1][:, self.info.extra["eval_train_points"]:]

    def metrics(self) -> dict[str, Metric]:
        return {"nll": MeanOfOutputs()}
