"""Generated tabular data with known structure, for the tabular plugins whose claims are about
feature interactions and fairness: categorical click data (CTR) with planted field interactions,
numeric features with planted multiplicative interactions, and a label with a protected attribute
that some features leak. Because the generating logit is known, each task also reports the best
score any model could reach (the Bayes AUC of the true click probability).

Built-in tasks: `ctr/planted` and `tabular/interactions` (binary; metrics AUC, log-loss, accuracy
on 2-class logits). numpy only; seeded through a `numpy.random.Generator`.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import combinations

import numpy as np

from zoo.tasks import ArrayTask, accuracy_metric

__all__ = ["ctr_data", "ctr_metrics", "interaction_data", "protected_data", "ctr_task", "interactions_task",
           "binary_auc", "DEFAULT_CARDINALITIES"]

MAX_ROWS = 5_000_000
# twelve fields from a 1000-value id (an item) down to binary flags, as in a small CTR log
DEFAULT_CARDINALITIES = (1000, 500, 200, 100, 50, 50, 20, 20, 10, 10, 5, 2)


def _rows(label: str, n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_ROWS:
        raise ValueError(f"{label} must be an int in [1, {MAX_ROWS}], got {n!r}")
    return int(n)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def binary_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC of `scores` for binary `labels` (ties count half), by ranks."""
    from scipy.stats import rankdata

    labels = np.asarray(labels).astype(bool)
    positives, negatives = labels.sum(), (~labels).sum()
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = rankdata(scores)
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def ctr_data(n: int, rng: np.random.Generator, *, cardinalities=DEFAULT_CARDINALITIES, embedding_dim: int = 4,
             pairs: int = 8, first_order: float = 0.5, pair_scale: float = 1.0, triple_scale: float = 1.0,
             target_ctr: float = 0.25, zipf: float = 1.1, world: np.random.Generator | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Click logs on categorical fields, with the click logit built from planted interactions:

        logit = b + first_order * sum_f w_f[id_f]                          (first-order terms)
                  + pair_scale * sum_{(f, g) in P} <v_f[id_f], v_g[id_g]>   (pairwise, FM-like)
                  + triple_scale * u_a[id_a] u_b[id_b] u_c[id_c]             (one multiplicative 3-way term)

    with P `pairs` random field pairs, hidden per-id vectors v of `embedding_dim` and scalars w, u
    (standard normal, the pair term divided by sqrt(pairs * embedding_dim) so its scale does not
    grow with them), and b set so the mean click rate is about `target_ctr`. Ids follow a Zipf-like
    law (p ~ 1/(rank + 1)^zipf, ranks shuffled), as ids do in real logs.

    world: the generator that draws the hidden structure (vectors, pairs, id frequencies); default
        `rng`. Pass the same `world` seed to draw train and test rows from one world.
    Returns (ids int64 (n, fields) in [0, cardinality), clicks int64 (n,), logits float (n,))."""
    n = _rows("n", n)
    cardinalities = [int(c) for c in cardinalities]
    if len(cardinalities) < 3 or any(not 2 <= c <= 10_000_000 for c in cardinalities):
        raise ValueError(f"cardinalities must list at least 3 fields, each with 2 to 1e7 ids, got {cardinalities}")
    fields = len(cardinalities)
    if not 0 <= pairs <= fields * (fields - 1) // 2:
        raise ValueError(f"pairs must be in [0, {fields * (fields - 1) // 2}] for {fields} fields, got {pairs}")
    if not 1 <= embedding_dim <= 256:
        raise ValueError(f"embedding_dim must be in [1, 256], got {embedding_dim}")
    if not 0.0 < target_ctr < 1.0:
        raise ValueError(f"target_ctr must be in (0, 1), got {target_ctr}")
    world = rng if world is None else world
    frequencies = []
    for c in cardinalities:
        p = 1.0 / (np.arange(c) + 1.0) ** zipf
        frequencies.append(world.permutation(p / p.sum()))
    first = [world.normal(0.0, 1.0, c) for c in cardinalities]
    vectors = [world.normal(0.0, 1.0, (c, embedding_dim)) for c in cardinalities]
    all_pairs = list(combinations(range(fields), 2))
    chosen = [all_pairs[i] for i in world.choice(len(all_pairs), size=pairs, replace=False)]
    triple = world.choice(fields, size=3, replace=False)
    scalars = [world.normal(0.0, 1.0, c) for c in cardinalities]

    ids = np.stack([rng.choice(c, size=n, p=p) for c, p in zip(cardinalities, frequencies)], axis=1)
    logit = first_order * sum(first[f][ids[:, f]] for f in range(fields)) / np.sqrt(fields)
    if chosen:
        pair_sum = sum((vectors[f][ids[:, f]] * vectors[g][ids[:, g]]).sum(1) for f, g in chosen)
        logit = logit + pair_scale * pair_sum / np.sqrt(len(chosen) * embedding_dim)
    logit = logit + triple_scale * np.prod([scalars[f][ids[:, f]] for f in triple], axis=0)
    # the bias that gives the target mean click rate, found on the rows themselves by bisection
    low, high = -20.0, 20.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if _sigmoid(logit + middle).mean() < target_ctr else (low, middle)
    logit = logit + (low + high) / 2
    clicks = (rng.random(n) < _sigmoid(logit)).astype(np.int64)
    return ids.astype(np.int64), clicks, logit


def interaction_data(n: int, rng: np.random.Generator, *, features: int = 10, pairs: int = 3, triples: int = 1,
                     linear: float = 0.5, scale: float = 1.5, world: np.random.Generator | None = None
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Standard-normal numeric features and a binary label whose logit holds planted products:

        logit = linear * <a, x> / sqrt(d) + scale * (sum_{(i, j)} x_i x_j + sum_{(i, j, k)} x_i x_j x_k) / sqrt(pairs + triples)

    over `pairs` random feature pairs and `triples` random triples (drawn from `world`, default
    `rng`). A linear model sees only the first term. Returns (x float (n, d), y int64 (n,), logits)."""
    n = _rows("n", n)
    if not 3 <= features <= 10_000:
        raise ValueError(f"features must be in [3, 10000], got {features}")
    if pairs < 0 or triples < 0 or pairs + triples == 0:
        raise ValueError(f"pairs and triples must be >= 0 and not both 0, got {pairs} and {triples}")
    world = rng if world is None else world
    weights = world.normal(0.0, 1.0, features)
    pair_index = [tuple(world.choice(features, 2, replace=False)) for _ in range(pairs)]
    triple_index = [tuple(world.choice(features, 3, replace=False)) for _ in range(triples)]
    x = rng.normal(0.0, 1.0, (n, features))
    products = sum(x[:, i] * x[:, j] for i, j in pair_index) + sum(x[:, i] * x[:, j] * x[:, k]
                                                                   for i, j, k in triple_index)
    logit = linear * x @ weights / np.sqrt(features) + scale * products / np.sqrt(pairs + triples)
    y = (rng.random(n) < _sigmoid(logit)).astype(np.int64)
    return x, y, logit


def protected_data(n: int, rng: np.random.Generator, *, features: int = 8, leakage: float = 1.0,
                   label_bias: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A binary label y, a binary protected attribute s (half the rows each) and features, built
    so that a classifier can do well without s but an unconstrained one picks s up:

        merit m ~ N(0, 1);  P(y = 1) = sigmoid(2 m + label_bias (2 s - 1))
        x_0..x_{h-1} = m + N(0, 1)       (h = features // 2: noisy views of the merit)
        x_h..x_{d-1} = leakage (2 s - 1) + N(0, 1)   (proxies of s)

    Returns (x float (n, features), y int64 (n,), s int64 (n,))."""
    n = _rows("n", n)
    if not 2 <= features <= 10_000:
        raise ValueError(f"features must be in [2, 10000], got {features}")
    s = rng.permutation(np.arange(n) % 2)
    merit = rng.normal(0.0, 1.0, n)
    y = (rng.random(n) < _sigmoid(2.0 * merit + label_bias * (2 * s - 1))).astype(np.int64)
    half = features // 2
    x = np.empty((n, features))
    x[:, :half] = merit[:, None] + rng.normal(0.0, 1.0, (n, half))
    x[:, half:] = leakage * (2 * s - 1)[:, None] + rng.normal(0.0, 1.0, (n, features - half))
    return x, y, s.astype(np.int64)


@lru_cache(maxsize=None)
def _log_loss_class():
    """The `LogLoss` metric class, defined on first use (no torch at import)."""
    import torch
    from torchmetrics import Metric

    class LogLoss(Metric):
        """Mean cross entropy of 2-class logits against 0/1 targets (natural log), summed across
        processes: the log-loss CTR papers report."""

        full_state_update = False
        higher_is_better = False

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("count", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

        def update(self, preds, target) -> None:
            losses = torch.nn.functional.cross_entropy(preds.detach().double(), target, reduction="sum")
            self.total.add_(losses)
            self.count.add_(target.numel())

        def compute(self):
            return self.total / self.count

    return LogLoss


def _click_probability(logits):
    return logits.softmax(-1)[:, 1]


def ctr_metrics() -> dict:
    """Fresh metrics of a binary task scored by 2-class logits: AUC, log-loss, accuracy."""
    from torchmetrics.classification import BinaryAUROC
    from torchmetrics.wrappers import LambdaInputTransformer

    return {"auc": LambdaInputTransformer(BinaryAUROC(validate_args=False), transform_pred=_click_probability),
            "logloss": _log_loss_class()(), "accuracy": accuracy_metric()}


def _sizes(n_train, n_val, n_test) -> tuple[int, int, int]:
    return _rows("n_train", n_train), _rows("n_val", n_val), _rows("n_test", n_test)


def _binary_task(name: str, arrays: tuple, sizes: tuple[int, int, int], extra: dict) -> ArrayTask:
    x, y, logit = arrays
    cuts = np.cumsum(sizes)
    parts = {"train": slice(0, cuts[0]), "val": slice(cuts[0], cuts[1]), "test": slice(cuts[1], cuts[2])}
    test = parts["test"]
    probability = _sigmoid(logit[test])
    extra = {**extra, "bayes_auc": binary_auc(y[test], logit[test]),
             "bayes_logloss": float(-np.mean(y[test] * np.log(probability) + (1 - y[test]) * np.log1p(-probability))),
             "positive_rate": float(y.mean())}
    return ArrayTask(name, "classification", {split: (x[part], y[part]) for split, part in parts.items()},
                     num_classes=2, metrics=ctr_metrics, extra=extra)


def ctr_task(name: str = "ctr/planted", *, n_train: int = 40_000, n_val: int = 5_000, n_test: int = 10_000,
             pairs: int = 8, embedding_dim: int = 4, seed: int = 0) -> ArrayTask:
    """Binary click prediction on the twelve DEFAULT_CARDINALITIES fields (`ctr_data`, one world per
    seed). Inputs: int64 ids (fields,), one id space per field, in
    ``info.extra["field_cardinalities"]``; targets 0/1; models output 2-class logits."""
    sizes = _sizes(n_train, n_val, n_test)
    rng = np.random.default_rng(seed)
    arrays = ctr_data(sum(sizes), rng, pairs=pairs, embedding_dim=embedding_dim)
    return _binary_task(name, arrays, sizes, {
        "field_cardinalities": list(DEFAULT_CARDINALITIES), "pairs": pairs, "embedding_dim": embedding_dim,
        "seed": seed})


def interactions_task(name: str = "tabular/interactions", *, n_train: int = 20_000, n_val: int = 2_500,
                      n_test: int = 5_000, features: int = 10, pairs: int = 3, triples: int = 1,
                      seed: int = 0) -> ArrayTask:
    """Binary classification of standard-normal features whose label logit holds planted pairwise
    and three-way products (`interaction_data`); models output 2-class logits."""
    sizes = _sizes(n_train, n_val, n_test)
    rng = np.random.default_rng(seed)
    arrays = interaction_data(sum(sizes), rng, features=features, pairs=pairs, triples=triples)
    return _binary_task(name, arrays, sizes, {"features": features, "pairs": pairs, "triples": triples, "seed": seed})
