"""The structural-causal-model (SCM) prior of TabPFN (Hollmann et al., 2022, arXiv:2207.01848,
Sec. 4.2-4.4 and App. C), which generates small tabular classification datasets.

One dataset is drawn as follows (every hyperparameter itself drawn per dataset, the paper's
"prior over priors"):

1. A random causal graph in the shape of an MLP: `depth` layers of `width` nodes; each edge
   W[i, j] ~ N(0, weight_std^2 / fan_in) is kept with probability 1 - edge_dropout (the paper's
   dropout on the MLP's weights, which makes the DAG sparse).
2. Root causes: the first layer's nodes are noise, N(0, 1) or U(-sqrt 3, sqrt 3) per dataset
   (the paper's sampling of initial causes from normal or uniform distributions).
3. Each later node is an activation (tanh, leaky ReLU, ELU or identity, drawn per dataset) of the
   weighted sum of its parents, plus Gaussian noise of std noise_std (log-uniform) at every node:
   z_l = act(z_{l-1} W_l) + eps_l.
4. The target is a random node of the last layer (an effect, as with the authors' default
   `y_is_effect`), and the observed features a random subset of F other non-root nodes (F
   uniform in 1..max_features, fewer if the graph is smaller): causes of the target, or nodes
   that share causes with it.
5. The continuous target becomes C classes (C uniform in 2..max_classes) at C - 1 thresholds
   drawn at random among the dataset's target values, and the class ids are randomly permuted.

Departures from the paper's prior (simplest reading, stated in DOC.md): no Bayesian-neural-network
prior mixed in, no categorical features, no input warping and no missing values; all nodes of a
layer share one width, and the hyperparameter ranges are narrowed to graphs small enough for the
CPU budget.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SCMPrior", "ACTIVATIONS"]


def _leaky_relu(z):
    return np.where(z > 0, z, 0.01 * z)


def _elu(z):
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0)))


ACTIVATIONS = {"tanh": np.tanh, "leaky_relu": _leaky_relu, "elu": _elu, "identity": lambda z: z}


@dataclass(frozen=True)
class SCMPrior:
    """Random SCM datasets; `sample(batch, rows, rng)` returns padded arrays (see there)."""

    max_features: int = 10
    max_classes: int = 4
    depth: tuple[int, int] = (2, 4)  # layers of the MLP-shaped graph, the root layer included
    width: tuple[int, int] = (4, 16)  # nodes per layer
    edge_dropout: tuple[float, float] = (0.0, 0.7)
    noise_std: tuple[float, float] = (0.01, 0.3)  # log-uniform
    weight_std: tuple[float, float] = (0.7, 2.0)

    def __post_init__(self):
        if self.max_features < 1 or self.max_classes < 2:
            raise ValueError(f"SCMPrior needs max_features >= 1 and max_classes >= 2, got "
                             f"{self.max_features} and {self.max_classes}")
        for name in ("depth", "width", "edge_dropout", "noise_std", "weight_std"):
            lo, hi = getattr(self, name)
            if not lo <= hi:
                raise ValueError(f"SCMPrior.{name} = ({lo}, {hi}): expected a range (low, high) with low <= high")
        if self.depth[0] < 2:
            raise ValueError(f"SCMPrior.depth must start at >= 2 (a root layer and one caused layer), got {self.depth}")
        if self.width[0] < 2:
            raise ValueError(f"SCMPrior.width must start at >= 2 (a target and a feature node), got {self.width}")

    def dataset(self, rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, int]:
        """One dataset: features (rows, F), class ids (rows,), and its number of classes C."""
        for _ in range(100):
            depth = int(rng.integers(self.depth[0], self.depth[1] + 1))
            width = int(rng.integers(self.width[0], self.width[1] + 1))
            drop = rng.uniform(*self.edge_dropout)
            noise = float(np.exp(rng.uniform(np.log(self.noise_std[0]), np.log(self.noise_std[1]))))
            weight_std = rng.uniform(*self.weight_std)
            act = ACTIVATIONS[list(ACTIVATIONS)[rng.integers(len(ACTIVATIONS))]]
            if rng.random() < 0.5:  # root causes: standard normal or uniform with unit variance
                z = rng.standard_normal((rows, width))
            else:
                z = rng.uniform(-3 ** .5, 3 ** .5, (rows, width))
            nodes = []
            for _layer in range(depth - 1):
                keep = rng.random((width, width)) >= drop
                w = rng.standard_normal((width, width)) * weight_std / np.sqrt(width * (1 - drop) + 1e-9) * keep
                z = act(z @ w) + noise * rng.standard_normal((rows, width))
                nodes.append(z)
            values = np.concatenate(nodes, axis=1)
            num_features = int(rng.integers(1, min(self.max_features, values.shape[1] - 1) + 1))
            # the target is a node of the last layer (an effect, the authors' y_is_effect), the features
            # any other nodes: causes, siblings or effects of the target's ancestors
            target_index = values.shape[1] - width + int(rng.integers(width))
            others = np.delete(np.arange(values.shape[1]), target_index)
            target, x = values[:, target_index], values[:, rng.permutation(others)[:num_features]]
            if not np.isfinite(values).all() or target.std() < 1e-6:
                continue  # a degenerate draw (constant or exploding target): draw again
            classes = int(rng.integers(2, self.max_classes + 1))
            thresholds = np.sort(rng.choice(target, classes - 1, replace=False))
            y = rng.permutation(classes)[np.searchsorted(thresholds, target, side="right")]
            return x, y, classes
        raise RuntimeError("SCMPrior drew 100 degenerate datasets in a row; check its ranges")

    def sample(self, batch: int, rows: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """x (batch, rows, max_features) float32 with the unused columns zero, y (batch, rows) int64,
        num_features (batch,) int64."""
        if rows < 2:
            raise ValueError(f"a prior dataset needs at least 2 rows, got {rows}")
        x = np.zeros((batch, rows, self.max_features), dtype=np.float32)
        y = np.zeros((batch, rows), dtype=np.int64)
        used = np.zeros(batch, dtype=np.int64)
        for b in range(batch):
            features, labels, _ = self.dataset(rows, rng)
            x[b, :, :features.shape[1]] = features
            y[b], used[b] = labels, features.shape[1]
        return x, y, used
