"""The class-overlapping 1D Gaussian mixture of TAC-GAN (Gong et al., 2019) that ADC-GAN's
synthetic experiment uses: class 0 ~ N(0, 1), class 1 ~ N(3, 2^2), class 2 ~ N(6, 3^2), equal
weights; the classes overlap, so p(y|x) is far from one-hot and a generator that makes its samples
easy to classify must shrink or shift them.

Metrics compare each class's generated samples with its known Gaussian: `w1`, the Wasserstein-1
distance averaged over classes (the empirical quantile function against the exact one), and
`label_accuracy`, the accuracy of the Bayes classifier argmax_y N(x; mu_y, s_y) on the
(generated sample, requested label) pairs (about 0.70 on real data; a generator that pushes classes
apart scores higher).
"""

from __future__ import annotations


import torch
from torchmetrics import Metric

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["OverlappingGaussians1D", "class_w1", "bayes_labels", "overlap1d"]

MEANS = (0.0, 3.0, 6.0)
STDS = (1.0, 2.0, 3.0)


def class_w1(samples: torch.Tensor, mean: float, std: float) -> float:
    """W1 between the empirical distribution of 1D samples and N(mean, std^2): the mean absolute gap
    between the sorted samples and the Gaussian's quantiles at (i - 1/2) / n."""
    x = samples.reshape(-1).double().sort().values
    n = x.numel()
    if n == 0:
        raise ValueError("class_w1 needs at least one sample")
    u = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    return float((x - (mean + std * torch.special.ndtri(u))).abs().mean())


def bayes_labels(x: torch.Tensor, means=MEANS, stds=STDS) -> torch.Tensor:
    """argmax_y of N(x; mu_y, s_y^2) (equal class priors): the Bayes classifier of the task."""
    mu = torch.tensor(means, dtype=torch.float64)
    sd = torch.tensor(stds, dtype=torch.float64)
    x = x.reshape(-1, 1).double()
    log_density = -0.5 * ((x - mu) / sd) ** 2 - sd.log()
    return log_density.argmax(-1)


class ClassW1(Metric):
    """Per-class W1 of generated samples to the class's Gaussian, averaged over classes."""

    full_state_update = False

    def __init__(self, means, stds):
        super().__init__()
        self.means, self.stds = means, stds
        self.add_state("samples", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")

    def update(self, samples: torch.Tensor, labels: torch.Tensor) -> None:
        self.samples.append(samples.reshape(-1).detach().float())
        self.labels.append(labels.reshape(-1))

    def compute(self) -> torch.Tensor:
        x, y = torch.cat(self.samples), torch.cat(self.labels)
        per_class = [class_w1(x[y == k], m, s) for k, (m, s) in enumerate(zip(self.means, self.stds)) if (y == k).any()]
        return torch.tensor(sum(per_class) / max(len(per_class), 1))


class BayesLabelAccuracy(Metric):
    """Share of (sample, label) pairs whose label the task's Bayes classifier predicts."""

    full_state_update = False

    def __init__(self, means, stds):
        super().__init__()
        self.means, self.stds = means, stds
        self.add_state("correct", default=torch.zeros(()), dist_reduce_fx="sum")
        self.add_state("total", default=torch.zeros(()), dist_reduce_fx="sum")

    def update(self, samples: torch.Tensor, labels: torch.Tensor) -> None:
        predicted = bayes_labels(samples.detach().cpu(), self.means, self.stds)
        self.correct += (predicted == labels.cpu()).sum().to(self.correct)
        self.total += labels.numel()

    def compute(self) -> torch.Tensor:
        return self.correct / self.total.clamp_min(1)


class OverlappingGaussians1D(Task):
    """Labelled samples of a 1D Gaussian mixture with one component per class.

    Batches are (x (n, 1), label (n,)). The paper's data: 128000 samples per class for training.
    """

    kind = "generation"

    def __init__(self, name: str = "adc-gan/overlap1d", means=MEANS, stds=STDS, n_per_class: int = 128000,
                 n_test_per_class: int = 5000, seed: int = 0):
        if len(means) != len(stds) or len(means) < 2:
            raise ValueError(f"means and stds must be equal-length lists of >= 2 classes, got {means} and {stds}")
        if any(not s > 0 for s in stds):
            raise ValueError(f"every std must be > 0, got {stds}")
        if n_per_class < 1 or n_test_per_class < 1:
            raise ValueError(f"n_per_class and n_test_per_class must be >= 1, got {n_per_class} and {n_test_per_class}")
        self.name, self.means, self.stds = name, tuple(means), tuple(stds)
        self.n_per_class, self.n_test_per_class, self.seed = n_per_class, n_test_per_class, seed
        self.info = TaskInfo(kind="generation", input_shape=(1,), output_dim=1, num_classes=len(means),
                             extra={"support": "real", "means": list(self.means), "stds": list(self.stds)})

    def sample(self, n_per_class: int, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        labels = torch.arange(len(self.means)).repeat_interleave(n_per_class)
        mu, sd = torch.tensor(self.means)[labels], torch.tensor(self.stds)[labels]
        x = mu + sd * torch.randn(labels.numel(), generator=generator)
        order = torch.randperm(labels.numel(), generator=generator)
        return x[order].unsqueeze(1), labels[order]

    def splits(self) -> dict[str, ArraySplit]:
        gen = torch.Generator().manual_seed(self.seed)
        return {"train": ArraySplit(*self.sample(self.n_per_class, gen)),
                "val": ArraySplit(*self.sample(self.n_test_per_class, gen)),
                "test": ArraySplit(*self.sample(self.n_test_per_class, gen))}

    def metrics(self) -> dict[str, Metric]:
        return {"w1": ClassW1(self.means, self.stds), "label_accuracy": BayesLabelAccuracy(self.means, self.stds)}


def overlap1d(**options) -> OverlappingGaussians1D:
    return OverlappingGaussians1D(**options)


def real_label_accuracy(means=MEANS, stds=STDS, n: int = 200000, seed: int = 0) -> float:
    """The Bayes classifier's accuracy on real samples (the value a faithful generator matches)."""
    gen = torch.Generator().manual_seed(seed)
    k = len(means)
    labels = torch.arange(k).repeat_interleave(n // k)
    x = torch.tensor(means)[labels] + torch.tensor(stds)[labels] * torch.randn(labels.numel(), generator=gen)
    return float((bayes_labels(x, means, stds) == labels).double().mean())


