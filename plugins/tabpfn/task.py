"""`tabpfn/scm-prior`: small classification datasets drawn from TabPFN's SCM prior (`prior.py`),
for pretraining and testing TabPFN.

Each sample is one whole dataset: (x (rows, max_features), y (rows,), num_features). The train
split draws fresh datasets on access (see `SCMDraws`), so every training step sees new prior draws
and a run is repeatable; val and test are fixed draws from other seeds. Evaluation conditions on
the first `eval_train_points` rows of a dataset and scores the logits of the rest: `nll`, the mean
cross entropy over every query row (over all `max_classes` logits, the pretraining loss), and
`accuracy`.
"""

from __future__ import annotations

import numpy as np
import torch
import torchmetrics

from zoo.errors import ConfigError
from zoo.tasks import ArraySplit, Task, TaskInfo, accuracy_metric
from zoo_plugins.pfn.prior import PriorDraws

from .prior import SCMPrior

__all__ = ["SCMDraws", "SCMPriorTask", "QueryCrossEntropy"]


def _seed(*parts: int) -> int:
    return int(np.random.SeedSequence(list(parts)).generate_state(1)[0])


class SCMDraws(PriorDraws):
    """Prior datasets drawn on access, as the pfn plugin's GP draws (a batch is a pure function of
    its indices), from the SCM prior's numpy sampler."""

    def draw(self, count: int, seed: int) -> tuple[torch.Tensor, ...]:
        arrays = self.prior.sample(count, self.num_points, np.random.default_rng(seed))
        return tuple(torch.from_numpy(a) for a in arrays)


class QueryCrossEntropy(torchmetrics.Metric):
    """Mean cross entropy of logits (..., classes) against class ids (...), over every position."""

    full_state_update = False
    higher_is_better = False

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.add_state("total", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

    def update(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        if logits.shape[:-1] != target.shape:
            raise ValueError(f"logits {tuple(logits.shape)} do not match class ids {tuple(target.shape)}")
        losses = torch.nn.functional.cross_entropy(logits.detach().reshape(-1, logits.shape[-1]).double(),
                                                   target.reshape(-1), reduction="sum")
        self.total += losses
        self.count += target.numel()

    def compute(self) -> torch.Tensor:
        return (self.total / self.count.clamp_min(1)).float()


class SCMPriorTask(Task):
    """Datasets from the SCM prior: batches (x (B, rows, max_features), y (B, rows), num_features (B,))."""

    kind = "classification"

    def __init__(self, name: str = "tabpfn/scm-prior", *, max_features: int = 10, max_classes: int = 4,
                 num_points: int = 100, eval_train_points: int = 80, train_draws: int = 8192,
                 test_draws: int = 500, seed: int = 0):
        if not 1 <= eval_train_points < num_points:
            raise ConfigError(f"eval_train_points must lie in [1, num_points), got {eval_train_points} with "
                              f"num_points={num_points}")
        for option, value in (("train_draws", train_draws), ("test_draws", test_draws)):
            if value < 1:
                raise ConfigError(f"{option} must be >= 1, got {value}")
        try:
            self.prior = SCMPrior(max_features=max_features, max_classes=max_classes)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        self.name = name
        self.num_points, self.train_draws, self.test_draws, self.seed = num_points, train_draws, test_draws, seed
        self.info = TaskInfo(kind="classification", input_shape=(num_points, max_features), output_dim=max_classes,
                             num_classes=max_classes, extra={
                                 "max_features": max_features, "max_classes": max_classes, "num_points": num_points,
                                 "eval_train_points": eval_train_points})

    def splits(self) -> dict:
        """train: fresh draws on access; val and test: fixed draws (independent of batch size)."""
        out = {"train": SCMDraws(self.prior, self.num_points, self.train_draws, seed=self.seed)}
        for offset, split in enumerate(("val", "test"), start=1):
            rng = np.random.default_rng(_seed(self.seed, 10 ** 6 + offset))
            out[split] = ArraySplit(*self.prior.sample(self.test_draws, self.num_points, rng))
        return out

    def inputs(self, batch) -> tuple:
        n = self.info.extra["eval_train_points"]
        x, y, used = batch[0], batch[1], batch[2]
        return x[:, :n], y[:, :n], x[:, n:], used

    def targets(self, batch):
        return batch[1][:, self.info.extra["eval_train_points"]:]

    def metrics(self) -> dict:
        return {"nll": QueryCrossEntropy(), "accuracy": accuracy_metric()}
