"""Tasks of `concept-subspace-net`: inputs with several concept labels each, batches
(x (B, features), labels (B, concepts)); concept 0 is the task label.

- `concept-subspace-net/fair`: the shared generator `protected_data` (zoo_plugins.tasks.
  synthetic_tabular): a binary label y that depends on a merit and on a binary protected attribute
  s, and features of which half are noisy views of the merit and half proxies of s. Concepts:
  (y, s). A fair classifier predicts y with predictions independent of s.
- `concept-subspace-net/hierarchy`: a generated two-level label hierarchy (`hierarchical_data`):
  `coarse` classes, each with `fine_per_coarse` fine classes. Coarse centres are drawn at scale
  `coarse_scale`, fine centres around them at scale `fine_scale`, and each input is its fine
  centre plus unit Gaussian noise, seen through a fixed random rotation. Concepts: (fine,
  coarse); `task.parent[f]` is the coarse class of fine class f.

Splits are independent draws (train / val / test) from seeds derived from `seed`.
"""

from __future__ import annotations

import numpy as np

from zoo.errors import ConfigError
from zoo.tasks import ArraySplit, Task, TaskInfo, cross_entropy

__all__ = ["ConceptTask", "fair_task", "hierarchy_task", "hierarchical_data"]


def hierarchical_data(n: int, rng: np.random.Generator, *, coarse: int, fine_per_coarse: int, features: int,
                      coarse_scale: float, fine_scale: float, centres: tuple | None = None):
    """(x (n, features), fine (n,), coarse (n,), centres). `centres` = (fine centres (F, features),
    rotation (features, features)) fixes the classes across splits; None draws them from rng."""
    fine_classes = coarse * fine_per_coarse
    if centres is None:
        coarse_centres = coarse_scale * rng.standard_normal((coarse, features))
        fine_centres = np.repeat(coarse_centres, fine_per_coarse, 0) + fine_scale * rng.standard_normal(
            (fine_classes, features))
        rotation, _ = np.linalg.qr(rng.standard_normal((features, features)))
        centres = (fine_centres, rotation)
    fine = rng.integers(0, fine_classes, n)
    x = (centres[0][fine] + rng.standard_normal((n, features))) @ centres[1]
    return x.astype(np.float32), fine, fine // fine_per_coarse, centres


class ConceptTask(Task):
    """Inputs with one label per concept; the loss (for models without their own step) sums the
    concepts' cross entropies; the metric is the accuracy of concept 0."""

    kind = "classification"

    def __init__(self, name: str, splits: dict, concepts: list[int], concept_names: list[str], extra: dict):
        self.name = name
        self._splits = {k: ArraySplit(*v) for k, v in splits.items()}
        features = self._splits["train"].tensors[0].shape[1]
        self.info = TaskInfo(kind="classification", input_shape=(features,), output_dim=concepts[0],
                             num_classes=concepts[0],
                             extra={"concepts": concepts, "concept_names": concept_names, **extra})

    def splits(self) -> dict:
        return dict(self._splits)

    def targets(self, batch):
        return batch[1][:, 0]

    def loss(self, output, batch):
        return sum(cross_entropy(logits, batch[1][:, i]) for i, logits in enumerate(output))

    def metrics(self) -> dict:
        from torchmetrics.wrappers import LambdaInputTransformer

        from zoo.tasks import accuracy_metric

        return {"accuracy": LambdaInputTransformer(accuracy_metric(), transform_pred=lambda out: out[0])}


def _sizes(train: int, val: int, test: int) -> dict:
    for option, value in (("train", train), ("val", val), ("test", test)):
        if value < 1:
            raise ConfigError(f"{option}={value}: expected at least 1 row")
    return {"train": train, "val": val, "test": test}


def _rng(seed: int, offset: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, offset]))


def fair_task(name: str = "concept-subspace-net/fair", *, features: int = 8, leakage: float = 1.0,
              label_bias: float = 1.0, train: int = 2000, val: int = 500, test: int = 2000,
              seed: int = 0) -> ConceptTask:
    from zoo_plugins.tasks.synthetic_tabular import protected_data

    if features < 2:
        raise ConfigError(f"features={features}: protected_data needs at least 2 (merit views and proxies of s)")
    splits = {}
    for offset, (split, n) in enumerate(_sizes(train, val, test).items()):
        x, y, s = protected_data(n, _rng(seed, offset), features=features, leakage=leakage, label_bias=label_bias)
        splits[split] = (x.astype(np.float32), np.stack([y, s], 1))
    return ConceptTask(name, splits, [2, 2], ["label", "protected"],
                       {"leakage": leakage, "label_bias": label_bias})


def hierarchy_task(name: str = "concept-subspace-net/hierarchy", *, coarse: int = 2, fine_per_coarse: int = 3,
                   features: int = 10, coarse_scale: float = 1.5, fine_scale: float = 1.0, train: int = 2000,
                   val: int = 500, test: int = 2000, seed: int = 0) -> ConceptTask:
    if coarse < 2 or fine_per_coarse < 2:
        raise ConfigError(f"coarse={coarse} and fine_per_coarse={fine_per_coarse}: a hierarchy needs at least 2 "
                          f"of each")
    if features < 1 or coarse_scale < 0 or fine_scale < 0:
        raise ConfigError(f"features={features} must be >= 1 and the scales ({coarse_scale}, {fine_scale}) >= 0")
    splits, centres = {}, None
    for offset, (split, n) in enumerate(_sizes(train, val, test).items()):
        x, fine, parent_of_row, centres = hierarchical_data(
            n, _rng(seed, offset), coarse=coarse, fine_per_coarse=fine_per_coarse, features=features,
            coarse_scale=coarse_scale, fine_scale=fine_scale, centres=centres)
        splits[split] = (x, np.stack([fine, parent_of_row], 1))
    task = ConceptTask(name, splits, [coarse * fine_per_coarse, coarse], ["fine", "coarse"],
                       {"fine_per_coarse": fine_per_coarse})
    task.parent = np.arange(coarse * fine_per_coarse) // fine_per_coarse
    return task
