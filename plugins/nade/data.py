"""`digits-binarized`: scikit-learn's 8x8 digits (UCI optdigits subset, shipped with sklearn) as
64 binary pixels (intensity > 8 of 16), for density estimation. Batches are (pixels, digit)."""

from __future__ import annotations

import torch
from torchmetrics import Metric

from zoo.tasks import ArrayTask

__all__ = ["MeanNLL", "binarized_digits", "binarized_digit_arrays"]


class MeanNLL(Metric):
    """Mean of per-example negative log-likelihoods (nats), as returned by a density model's
    `evaluation_step`; the target is ignored."""

    full_state_update = False

    def __init__(self):
        super().__init__()
        self.add_state("total", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", default=torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")

    def update(self, nll: torch.Tensor, target=None) -> None:
        if nll.dim() != 1:
            raise ValueError(f"MeanNLL expects per-example NLLs of shape (batch,), got {tuple(nll.shape)}")
        self.total += nll.double().sum()
        self.count += nll.numel()

    def compute(self) -> torch.Tensor:
        return (self.total / self.count.clamp_min(1)).float()


def binarized_digit_arrays(seed: int = 0) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Fixed shuffled splits: 1000 train, 300 val, 497 test."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = torch.as_tensor(digits.data > 8, dtype=torch.float32)
    y = torch.as_tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    return {"train": (x[:1000], y[:1000]), "val": (x[1000:1300], y[1000:1300]), "test": (x[1300:], y[1300:])}


def _negative_log_likelihood(log_prob: torch.Tensor, target) -> torch.Tensor:
    return -log_prob.mean()


def binarized_digits(seed: int = 0) -> ArrayTask:
    return ArrayTask("digits-binarized", "density", binarized_digit_arrays(seed), output_dim=64,
                     extra={"binary": True}, loss=_negative_log_likelihood, metrics=lambda: {"nll": MeanNLL()})
