"""2D Gaussian-mixture tasks for generative models, and the sample-quality metrics used on them.

`mixture2d/ring8`: 8 isotropic Gaussians evenly spaced on a circle of radius 2 (Metz et al.'s
unrolled-GAN benchmark); `mixture2d/grid25`: 25 Gaussians on the 5x5 grid {-4,-2,0,2,4}^2
(Srivastava et al., VEEGAN). Every sample is labelled with its component, so class-conditional
models (cGAN) use the same data. Metrics follow VEEGAN: a generated sample is "high quality" when
it lies within 3 standard deviations of its nearest centre, and a mode is covered when at least
`min_count` high-quality samples fall nearest to it.
"""

from __future__ import annotations

import math

import torch
from torchmetrics import Metric

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["GaussianMixture2D", "ModeMetric", "ring_centres", "grid_centres", "nearest_mode"]


def ring_centres(k: int = 8, radius: float = 2.0) -> torch.Tensor:
    angles = torch.arange(k, dtype=torch.float64) * (2 * math.pi / k)
    return (torch.stack([angles.cos(), angles.sin()], dim=1) * radius).float()


def grid_centres(side: int = 5, spacing: float = 2.0) -> torch.Tensor:
    coords = (torch.arange(side, dtype=torch.float32) - (side - 1) / 2) * spacing
    return torch.cartesian_prod(coords, coords)


def nearest_mode(x: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(index of the nearest centre, distance to it) for samples x (n, 2)."""
    dist = torch.cdist(x.float(), centres.to(x.device))
    d, idx = dist.min(dim=1)
    return idx, d


class ModeMetric(Metric):
    """Counts generated samples per mode; computes `modes_covered` or `high_quality` fraction."""

    full_state_update = False

    def __init__(self, centres: torch.Tensor, std: float, what: str, min_count: int = 1):
        super().__init__()
        if what not in ("modes_covered", "high_quality"):
            raise ValueError(f"what must be 'modes_covered' or 'high_quality', got {what!r}")
        self.what, self.std, self.min_count = what, std, min_count
        self.register_buffer("centres", centres.float())
        self.add_state("per_mode", default=torch.zeros(len(centres)), dist_reduce_fx="sum")
        self.add_state("total", default=torch.zeros(()), dist_reduce_fx="sum")

    def update(self, samples: torch.Tensor, target=None) -> None:
        samples = samples.reshape(samples.shape[0], -1)
        if samples.shape[1] != 2:
            raise ValueError(f"mixture metrics expect 2D samples (n, 2), got {tuple(samples.shape)}")
        idx, dist = nearest_mode(samples, self.centres)
        good = dist <= 3 * self.std
        self.per_mode += torch.bincount(idx[good], minlength=len(self.centres)).to(self.per_mode)
        self.total += samples.shape[0]

    def compute(self) -> torch.Tensor:
        if self.what == "modes_covered":
            return (self.per_mode >= self.min_count).sum().float()
        return self.per_mode.sum() / self.total.clamp_min(1)


class GaussianMixture2D(Task):
    """Samples of an equal-weight mixture of isotropic 2D Gaussians, labelled by component.

    Batches are (x (n, 2), component (n,)). Training data is a fixed sample (seeded), large enough
    that a generator cannot memorise it.
    """

    kind = "generation"

    def __init__(self, name: str, centres: torch.Tensor, std: float, n_train: int = 20000,
                 n_test: int = 5000, seed: int = 0):
        if n_train < 1 or n_test < 1:
            raise ValueError(f"n_train and n_test must be >= 1, got {n_train} and {n_test}")
        if not std > 0:
            raise ValueError(f"std must be > 0, got {std}")
        self.name, self.centres, self.std = name, centres, std
        self.n_train, self.n_test, self.seed = n_train, n_test, seed
        self.info = TaskInfo(kind="generation", input_shape=(2,), output_dim=2, num_classes=len(centres),
                             extra={"support": "real", "modes": len(centres), "std": std})

    def sample(self, n: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.randint(len(self.centres), (n,), generator=generator)
        x = self.centres[labels] + self.std * torch.randn(n, 2, generator=generator)
        return x, labels

    def splits(self) -> dict[str, ArraySplit]:
        gen = torch.Generator().manual_seed(self.seed)
        out = {}
        for split, n in (("train", self.n_train), ("val", self.n_test), ("test", self.n_test)):
            out[split] = ArraySplit(*self.sample(n, gen))
        return out

    def metrics(self) -> dict[str, Metric]:
        return {"modes_covered": ModeMetric(self.centres, self.std, "modes_covered"),
                "high_quality": ModeMetric(self.centres, self.std, "high_quality")}


def ring8(**options) -> GaussianMixture2D:
    return GaussianMixture2D("mixture2d/ring8", ring_centres(8, 2.0), std=0.05, **options)


def grid25(**options) -> GaussianMixture2D:
    return GaussianMixture2D("mixture2d/grid25", grid_centres(5, 2.0), std=0.05, **options)
