"""The group-shift problem of this paper's reproduction: `groups/spurious-digits`, tell small digits
(0-4) from large ones (5-9) in 8x8 images that also carry a spurious "background" bar.

Every image of the zoo's `digits` task (same train / val / test split) gets a bright vertical bar
in its leftmost column (attribute a = 1) or its rightmost one (a = 0), pixels the digits themselves
leave dark. The bar plays the part of Waterbirds' background: it is easier to read than the digit
(one linear pixel feature), and in the training split it agrees with the label (a = y) for a share
`spurious_agreement` of the images (0.95 by default, as the paper's Waterbirds: 95% of waterbirds on
water), chosen by a seeded draw; in val and test it is independent of the label (50%). The four
groups g = 2 y + a (label x attribute) are then 47.5 / 2.5 / 2.5 / 47.5 % of the training split and
about a quarter each of val and test, so a model that leans on the bar fails the two minority groups
(a small digit with the "large" bar, a large digit with the "small" bar).

Batches are (image (n, 1, 8, 8), label (n,), group (n,)); `group_labels(batch)` gives the groups to
methods such as group DRO, `num_groups` their number and `group_counts` the training group sizes.
Metrics: `accuracy` (plain, over the split), `worst_group_accuracy` (the lowest per-group accuracy)
and `average_accuracy` (per-group accuracies weighed by the training split's group shares: the
paper's "average accuracy" on a group-balanced test set).
"""

from __future__ import annotations

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo, cross_entropy

__all__ = ["SpuriousDigitsTask", "spurious_digits_task", "with_spurious_bar", "GROUP_NAMES"]

NAME = "groups/spurious-digits"
CLASSES, GROUPS = 2, 4
GROUP_NAMES = ("small digit, left bar", "small digit, right bar", "large digit, left bar",
               "large digit, right bar")  # g = 2 y + a; a = 1 is the left bar (the bar of large digits)


def with_spurious_bar(images: np.ndarray, attribute: np.ndarray, brightness: float = 1.0) -> np.ndarray:
    """images (n, 1, 8, 8) with column 0 set to `brightness` where attribute is 1, column 7 where it is 0."""
    out = images.copy()
    left = attribute.astype(bool)
    out[left, 0, :, 0] = brightness
    out[~left, 0, :, -1] = brightness
    return out


def _first(targets):
    return targets[0]


def _group_metric_class():
    """The per-group accuracy metric class, defined on first use (torchmetrics is imported then)."""
    import torch
    from torchmetrics import Metric

    class GroupAccuracy(Metric):
        """Per-group accuracy of logits against (label, group) targets, reduced to one number:
        `worst` the lowest group accuracy (groups the split lacks are left out), `weighted` the group
        accuracies weighed by `weights`."""

        full_state_update = False
        higher_is_better = True

        def __init__(self, groups: int, reduce: str, weights=None, **kwargs):
            super().__init__(**kwargs)
            self.groups, self.reduce = groups, reduce
            self.weights = None if weights is None else torch.as_tensor(weights, dtype=torch.float64)
            self.add_state("hits", torch.zeros(groups, dtype=torch.long), dist_reduce_fx="sum")
            self.add_state("total", torch.zeros(groups, dtype=torch.long), dist_reduce_fx="sum")

        def update(self, preds, target) -> None:
            label, group = target
            right = (preds.detach().argmax(-1) == label).long()
            self.hits.index_add_(0, group, right)
            self.total.index_add_(0, group, torch.ones_like(right))

        def compute(self):
            present = self.total > 0
            accuracy = self.hits.double() / self.total.clamp_min(1)
            if self.reduce == "worst":
                return accuracy[present].min() if present.any() else torch.tensor(float("nan"))
            weights = self.weights.to(accuracy.device) * present
            return (weights * accuracy).sum() / weights.sum()

    return GroupAccuracy


class SpuriousDigitsTask(Task):
    """Small (0-4) vs large (5-9) digits with a spurious bar (see the module docstring)."""

    name = NAME
    kind = "classification"

    def __init__(self, *, spurious_agreement: float = 0.95, brightness: float = 1.0, seed: int = 0):
        import zoo

        if not 0.5 <= spurious_agreement <= 1.0:
            raise ValueError(f"spurious_agreement must lie in [0.5, 1], got {spurious_agreement}")
        digits = zoo.get_task("digits").splits()
        rng = np.random.default_rng(seed)
        self._splits = {}
        for split in ("train", "val", "test"):
            images, digit = (t.numpy() for t in digits[split].tensors[:2])
            label = (digit >= 5).astype(np.int64)
            agreement = spurious_agreement if split == "train" else 0.5
            agrees = rng.random(len(label)) < agreement
            attribute = np.where(agrees, label, 1 - label)
            group = 2 * label + attribute
            self._splits[split] = ArraySplit(with_spurious_bar(images, attribute, brightness), label, group)
        self.group_counts = np.bincount(self._splits["train"].tensors[2].numpy(), minlength=GROUPS).tolist()
        self.num_groups = GROUPS
        self.info = TaskInfo(kind=self.kind, input_shape=(1, 8, 8), output_dim=CLASSES, num_classes=CLASSES,
                             extra={"groups": GROUPS, "group_names": list(GROUP_NAMES),
                                    "group_counts": self.group_counts, "spurious_agreement": spurious_agreement,
                                    "class_names": ["small (0-4)", "large (5-9)"]})

    def splits(self) -> dict[str, ArraySplit]:
        return dict(self._splits)

    def targets(self, batch):
        return batch[1], batch[2]

    def group_labels(self, batch):
        """The group id g = 2 y + a of each example of a batch."""
        return batch[2]

    def loss(self, output, batch):
        return cross_entropy(output, batch[1])

    def example_losses(self, output, batch):
        """The loss of each example (cross entropy, not averaged): what group DRO averages per group."""
        from torch.nn import functional as F

        return F.cross_entropy(output, batch[1], reduction="none")

    def metrics(self) -> dict:
        from torchmetrics.wrappers import LambdaInputTransformer

        from zoo.tasks import accuracy_metric

        group_accuracy = _group_metric_class()
        shares = np.asarray(self.group_counts, dtype=np.float64) / sum(self.group_counts)
        return {"accuracy": LambdaInputTransformer(accuracy_metric(), transform_target=_first),
                "worst_group_accuracy": group_accuracy(GROUPS, "worst"),
                "average_accuracy": group_accuracy(GROUPS, "weighted", weights=shares)}


def spurious_digits_task(**options) -> SpuriousDigitsTask:
    return SpuriousDigitsTask(**options)
