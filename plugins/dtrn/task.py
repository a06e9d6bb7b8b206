"""`dtrn/conflict`: generated multi-task recommendation data whose tasks partly conflict, the setting in which
DTRN (Liu et al., 2023) claims task-specific bottom representations reduce negative transfer.

Each row is one impression: categorical fields (user, item, item category, three context fields; ids and the
click task's field part from the shared `ctr_data` generator), two behaviour sequences of the user (type 0,
"viewed", and type 1, "bought"; `length` item ids each) and two labels, a click and a conversion:

    s_view = <a[item], mean_j a[viewed_j]>      s_buy = <b[item], mean_j b[bought_j]>
    click logit      = c_1 + f_1(fields) + scale s_view
    conversion logit = c_2 + f_2(fields) + scale s_buy - conflict s_view

a and b are hidden per-item vectors (two aspects of an item), f_1 is `ctr_data`'s logit (first-order terms,
planted field pairs, one 3-way product) and f_2 a second set of planted field pairs on the same ids. The two
tasks read different behaviour sequences through different item aspects, and the view-similarity that drives
clicks lowers conversions (`conflict`): a representation shared by both tasks must serve opposite uses of the
same signal. Behaviour sequences: each user has a hidden taste per aspect; its `length` items of each type are
the best of 4 x length random items by taste . aspect + Gumbel noise. The labels are drawn independently given
the features. Splits: one world per seed; train / val / test rows drawn from it.
"""

from __future__ import annotations

from functools import partial
from itertools import combinations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo

__all__ = ["FIELDS", "CARDINALITIES", "ITEM_FIELD", "TASKS", "cardinalities_with", "generate", "ConflictTask",
           "multitask_metrics"]

FIELDS = ("user", "item", "category", "context_a", "context_b", "context_c")
CARDINALITIES = (500, 1000, 50, 20, 10, 5)
ITEM_FIELD = 1
TASKS = ("click", "conversion")
ASPECT = 4


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _bias_for_rate(logit: np.ndarray, rate: float) -> float:
    low, high = -20.0, 20.0
    for _ in range(60):
        middle = (low + high) / 2
        low, high = (middle, high) if _sigmoid(logit + middle).mean() < rate else (low, middle)
    return (low + high) / 2


def _histories(users: np.ndarray, taste: np.ndarray, aspect: np.ndarray, length: int, rng) -> np.ndarray:
    """For each row, the `length` best of 4 * length uniformly drawn items by <taste[user], aspect[item]> + Gumbel."""
    pool = rng.integers(0, len(aspect), (len(users), 4 * length))
    score = np.einsum("nd,npd->np", taste[users], aspect[pool]) + rng.gumbel(size=pool.shape)
    best = np.argsort(-score, axis=1)[:, :length]
    return np.take_along_axis(pool, best, 1)


def cardinalities_with(items: int) -> tuple[int, ...]:
    """CARDINALITIES with `items` ids in the item field."""
    return tuple(items if f == ITEM_FIELD else c for f, c in enumerate(CARDINALITIES))


def generate(n: int, rng: np.random.Generator, world: np.random.Generator, *, length: int = 8, pairs: int = 4,
             scale: float = 3.0, conflict: float = 2.0, rates=(0.3, 0.15), items: int = CARDINALITIES[ITEM_FIELD]):
    """(ids int64 (n, 6), histories int64 (n, 2, length), labels int64 (n, 2), logits (n, 2)) from one world
    with `items` item ids."""
    from zoo_plugins.tasks.synthetic_tabular import ctr_data

    cardinalities = cardinalities_with(items)
    world_seed = int(world.integers(2**31))
    ids, _, field_logit_1 = ctr_data(n, rng, cardinalities=cardinalities, pairs=pairs, target_ctr=0.5,
                                     world=np.random.default_rng(world_seed))
    # the world's second draw: task 2's planted field pairs, the item aspects and the users' tastes
    second = np.random.default_rng(world_seed + 1)
    all_pairs = list(combinations(range(len(cardinalities)), 2))
    chosen = [all_pairs[i] for i in second.choice(len(all_pairs), pairs, replace=False)]
    vectors = [second.normal(size=(c, ASPECT)) for c in cardinalities]
    field_logit_2 = sum((vectors[f][ids[:, f]] * vectors[g][ids[:, g]]).sum(1) for f, g in chosen)
    field_logit_2 = field_logit_2 / np.sqrt(pairs * ASPECT)
    a = second.normal(size=(items, ASPECT)) / ASPECT ** 0.25
    b = second.normal(size=(items, ASPECT)) / ASPECT ** 0.25
    taste_a, taste_b = second.normal(size=(cardinalities[0], ASPECT)), second.normal(size=(cardinalities[0], ASPECT))
    viewed = _histories(ids[:, 0], taste_a, a, length, rng)
    bought = _histories(ids[:, 0], taste_b, b, length, rng)
    item = ids[:, ITEM_FIELD]
    s_view = (a[item] * a[viewed].mean(1)).sum(1)
    s_buy = (b[item] * b[bought].mean(1)).sum(1)
    click = field_logit_1 - field_logit_1.mean() + scale * s_view
    conversion = field_logit_2 + scale * s_buy - conflict * s_view
    click = click + _bias_for_rate(click, rates[0])
    conversion = conversion + _bias_for_rate(conversion, rates[1])
    logits = np.stack([click, conversion], 1)
    labels = (rng.random(logits.shape) < _sigmoid(logits)).astype(np.int64)
    return ids.astype(np.int64), np.stack([viewed, bought], 1).astype(np.int64), labels, logits


def _task_probability(task: int, logits):
    return logits[:, task].sigmoid()


def _task_label(task: int, labels):
    return labels[:, task]


def multitask_metrics() -> dict:
    """`<task>_auc` for every task: AUC of sigmoid(output[:, t]) against labels[:, t]."""
    from torchmetrics.classification import BinaryAUROC
    from torchmetrics.wrappers import LambdaInputTransformer

    return {f"{name}_auc": LambdaInputTransformer(BinaryAUROC(validate_args=False),
                                                  transform_pred=partial(_task_probability, t),
                                                  transform_target=partial(_task_label, t))
            for t, name in enumerate(TASKS)}


class ConflictTask(Task):
    """Two-task (click, conversion) prediction; loss: the sum of the tasks' binary cross entropies (equal
    weights); metrics: per-task AUC. Batches are (ids (6,), histories (2, length), labels (2,)); models take
    (ids, histories) and return (batch, 2) logits, one per task.

    Options: n_train, n_val, n_test, length (behaviour sequence length), conflict (how much the click signal
    lowers conversions), items (item ids, 1000), seed. After construction `bayes_auc` holds the test AUC of the
    true probabilities."""

    kind = "classification"

    def __init__(self, n_train: int = 20_000, n_val: int = 2_500, n_test: int = 10_000, length: int = 8,
                 conflict: float = 2.0, items: int = 1000, seed: int = 0):
        for label, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 2_000_000:
                raise ValueError(f"{label} must be an int in [1, 2000000], got {value!r}")
        if isinstance(length, bool) or not isinstance(length, int) or not 1 <= length <= 200:
            raise ValueError(f"length must be an int in [1, 200], got {length!r}")
        if not isinstance(conflict, (int, float)) or not 0.0 <= conflict <= 20.0:
            raise ValueError(f"conflict must be a number in [0, 20], got {conflict!r}")
        if isinstance(items, bool) or not isinstance(items, int) or not 2 <= items <= 1_000_000:
            raise ValueError(f"items must be an int in [2, 1000000], got {items!r}")
        self.name = "dtrn/conflict"
        sizes = (n_train, n_val, n_test)
        world = np.random.default_rng([seed, 1])
        ids, histories, labels, logits = generate(sum(sizes), np.random.default_rng([seed, 2]), world,
                                                  length=length, conflict=float(conflict), items=items)
        cuts = np.cumsum(sizes)
        parts = {"train": slice(0, cuts[0]), "val": slice(cuts[0], cuts[1]), "test": slice(cuts[1], cuts[2])}
        self._splits = {k: ArraySplit(ids[p], histories[p], labels[p]) for k, p in parts.items()}
        from zoo_plugins.tasks.synthetic_tabular import binary_auc

        test = parts["test"]
        self.bayes_auc = {name: binary_auc(labels[test, t], logits[test, t]) for t, name in enumerate(TASKS)}
        self.info = TaskInfo(kind=self.kind, input_shape=(len(CARDINALITIES),), output_dim=len(TASKS),
                             extra={"field_cardinalities": list(cardinalities_with(items)), "item_field": ITEM_FIELD,
                                    "history_types": 2, "history_length": length, "tasks": list(TASKS),
                                    "bayes_auc": self.bayes_auc, "positive_rates": labels.mean(0).tolist()})

    def splits(self) -> dict:
        return dict(self._splits)

    def inputs(self, batch) -> tuple:
        return (batch[0], batch[1])

    def targets(self, batch):
        return batch[2]

    def loss(self, output, batch):
        import torch.nn.functional as F

        labels = batch[2]
        if output.shape != labels.shape:
            raise ValueError(f"expected one logit per task, output of shape {tuple(labels.shape)}, got "
                             f"{tuple(output.shape)}")
        return F.binary_cross_entropy_with_logits(output, labels.to(output.dtype), reduction="none").mean(0).sum()

    def metrics(self) -> dict:
        return multitask_metrics()
