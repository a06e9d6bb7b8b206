"""Tasks: what a model is trained and evaluated on. A task supplies its data splits, a description
of inputs and outputs (used to size models), a loss, and metrics.

Plugins contribute tasks like models: a ``zoo_tasks`` hook returning ``TaskSpec(name, build)``,
and a ``tasks:`` entry in their catalog. ``build(**options)`` returns a `Task`.

Contract for models that train themselves (GANs, energy models, learning rules without
backprop), used by `zoo.train`:

    class MyGAN(nn.Module):
        def configure_optimizers(self, lr: float) -> dict[str, torch.optim.Optimizer]:
            ...  # optional; the default is one AdamW over all parameters, named "main"
        def training_step(self, batch, step) -> dict[str, torch.Tensor | float]:
            ...  # do the whole update: step.backward(loss) and step.step("generator")
                 # return what to log; it must contain "loss"

`step` is a `zoo.training.StepContext` (task, optimizers, backward, step, accelerator).
A model without `training_step` is trained with ``task.loss(model(*task.inputs(batch)), batch)``.
A model may also define ``evaluation_step(batch, task) -> output`` to replace ``model(*inputs)``
at evaluation (e.g. NADE's exact log-likelihood, a Ptr-Net's greedy decode).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

__all__ = ["TaskInfo", "Task", "TASK_KINDS", "ArraySplit", "ArrayTask", "cross_entropy", "mse", "standard_metrics",
           "accuracy_metric", "error_metric"]

TASK_KINDS = ("classification", "regression", "forecasting", "generation", "density", "sequence")


@dataclass(frozen=True)
class TaskInfo:
    """What a model needs to know to size itself for a task.

    input_shape: shape of one input sample (no batch dimension), e.g. (2,) or (1, 8, 8).
    output_dim: regression targets, classes, forecast horizon or sequence vocabulary.
    num_classes: for classification (and class-conditional generation), else None.
    extra: task-specific sizes a model may use (sequence length, vocabulary, lookback, ...).
    """

    kind: str
    input_shape: tuple[int, ...]
    output_dim: int
    num_classes: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def input_dim(self) -> int:
        """Number of input features when inputs are flat vectors."""
        n = 1
        for d in self.input_shape:
            n *= d
        return n


class Task:
    """Base class of every task. Subclasses set `name`, `kind`, `info` and implement `splits`.

    Batches are whatever the DataLoader collates from the split datasets; by default each sample
    is an ``(input, target)`` pair. Override `inputs`/`targets` for other layouts.
    """

    name: str = ""
    kind: str = ""
    info: TaskInfo
    build_options: dict | None = None  # the builder's options, set by Registry.get_task (runs record them);
    # None: not built from a registered task's builder (arrays, a Dataset), so no run file can rebuild it

    def splits(self) -> dict[str, Any]:
        """{"train": Dataset, "val": Dataset (optional), "test": Dataset}; fixed and offline."""
        raise NotImplementedError(f"task {self.name!r} does not define its data splits")

    def inputs(self, batch) -> tuple:
        """Positional model inputs from a batch."""
        return (batch[0],)

    def targets(self, batch):
        return batch[1]

    def loss(self, output, batch):
        """Scalar training loss for a model output on a batch."""
        raise NotImplementedError(f"task {self.name!r} has no loss; its models must define training_step")

    def metrics(self) -> dict[str, Any]:
        """Fresh metric objects (torchmetrics.Metric) keyed by name, updated with (output, target)."""
        return {}

    def __repr__(self) -> str:
        return f"<Task {self.name!r} ({self.kind})>"


# --- ready-made pieces for tasks held in memory ------------------------------------------------------


class ArraySplit:
    """A map-style dataset of aligned arrays (numpy or torch), stored as tensors.

    ``split[i]`` is one sample ``(x_i, y_i)``; ``split[indices]`` (a list or index tensor) is a whole
    batch fetched by one fancy-indexing call, which `zoo.train` uses to skip per-sample collation.
    Floating arrays become float32 unless ``float_dtype`` says otherwise; integer arrays int64.
    """

    def __init__(self, *arrays, float_dtype=None):
        import torch

        if not arrays:
            raise ValueError("ArraySplit needs at least one array")
        float_dtype = float_dtype or torch.float32
        tensors = []
        for i, a in enumerate(arrays):
            if getattr(getattr(a, "flags", None), "writeable", True) is False:
                a = a.copy()  # a read-only numpy view (e.g. sliding windows): torch needs writable memory
            t = torch.as_tensor(a)
            if t.dim() == 0:
                raise ValueError(f"array {i} is a scalar; expected one row per sample")
            if t.is_floating_point():
                t = t.to(float_dtype)
            elif t.dtype != torch.bool:
                t = t.long()
            tensors.append(t.contiguous())
        lengths = {len(t) for t in tensors}
        if len(lengths) != 1:
            raise ValueError(f"arrays of an ArraySplit must have the same number of rows, got "
                             f"{[len(t) for t in tensors]}")
        self.tensors = tuple(tensors)

    batched_indexing = True  # split[list_of_indices] returns a collated batch

    def __len__(self) -> int:
        return len(self.tensors[0])

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __repr__(self) -> str:
        shapes = ", ".join(f"{tuple(t.shape)} {str(t.dtype).removeprefix('torch.')}" for t in self.tensors)
        return f"ArraySplit({shapes})"


def _check_class_shapes(output, target) -> None:
    if output.dim() < 2 or tuple(output.shape[:-1]) != tuple(target.shape):
        raise ValueError(
            f"classification output of shape {tuple(output.shape)} does not fit targets of shape "
            f"{tuple(target.shape)}: expected output {(*target.shape, 'num_classes')}")


def cross_entropy(output, target, ignore_index: int = -100):
    """Mean cross entropy of logits (batch, [positions,] classes) against class ids (batch, [positions])."""
    import torch.nn.functional as F

    _check_class_shapes(output, target)
    return F.cross_entropy(output.reshape(-1, output.shape[-1]).float(), target.reshape(-1),
                           ignore_index=ignore_index)


def mse(output, target):
    """Mean squared error; output and target must have the same shape (no silent broadcasting)."""
    import torch.nn.functional as F

    if tuple(output.shape) != tuple(target.shape):
        raise ValueError(f"regression output of shape {tuple(output.shape)} does not match targets of "
                         f"shape {tuple(target.shape)}; expected the same shape")
    return F.mse_loss(output.float(), target.float())


def _counting_update(metric, update):
    """torchmetrics' per-call update wrapper (it counts updates and drops the cached result) without
    its grad-mode switch: entering `set_grad_enabled` on every call cost as much as these few-op
    updates on small evaluation batches. The updates detach their inputs instead."""

    def counted(*args, **kwargs) -> None:
        metric._computed = None
        metric._update_count += 1
        update(*args, **kwargs)

    return counted


@lru_cache(maxsize=None)
def _accuracy_class():
    """The `Accuracy` metric class, defined on first use so that importing zoo.tasks stays free of torch."""
    import torch
    from torchmetrics import Metric

    class Accuracy(Metric):
        """Share of right class predictions, from logits or scores with the class axis last
        ((batch, classes) or (batch, positions, classes)); targets equal to `ignore_index` are left out.

        A torchmetrics Metric (states summed across processes), counting hits only: torchmetrics'
        MulticlassAccuracy computes every stat score (tp, fp, tn, fn) per update, about three times
        the cost, which showed in evaluation throughput on small models.
        """

        full_state_update = False
        higher_is_better = True

        def __init__(self, ignore_index: int | None = None, **kwargs):
            super().__init__(**kwargs)
            self.ignore_index = ignore_index
            self.add_state("hits", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")
            self.add_state("total", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

        _wrap_update = _counting_update

        def update(self, preds, target) -> None:
            # in place: assigning a state goes through Metric.__setattr__, which costs more than the sum
            right = preds.detach().argmax(-1) == target
            if self.ignore_index is None:
                self.hits.add_(right.sum())
                self.total.add_(target.numel())
            else:
                kept = target != self.ignore_index
                self.hits.add_((right & kept).sum())
                self.total.add_(kept.sum())

        def compute(self):
            return self.hits.double() / self.total if self.total > 0 else torch.tensor(float("nan"))

    return Accuracy


def accuracy_metric(ignore_index: int | None = None):
    """A fresh `Accuracy` metric (see `_accuracy_class`)."""
    return _accuracy_class()(ignore_index=ignore_index)


@lru_cache(maxsize=None)
def _error_class():
    """The `MeanError` metric class, defined on first use (no torch at import)."""
    import torch
    from torchmetrics import Metric

    class MeanError(Metric):
        """Mean squared error ("mse"), its root ("rmse") or mean absolute error ("mae") over all
        elements; predictions and targets must have the same shape.

        A torchmetrics Metric (states summed across processes) with a one-line update: evaluation
        throughput on small models showed the per-update cost of torchmetrics' regression metrics.
        """

        full_state_update = False
        higher_is_better = False

        def __init__(self, kind: str, **kwargs):
            if kind not in ("mse", "rmse", "mae"):
                raise ValueError(f"kind must be 'mse', 'rmse' or 'mae', got {kind!r}")
            super().__init__(**kwargs)
            self.kind = kind
            self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
            self.add_state("count", torch.zeros((), dtype=torch.long), dist_reduce_fx="sum")

        _wrap_update = _counting_update

        def update(self, preds, target) -> None:
            if preds.shape != target.shape:
                raise ValueError(f"predictions of shape {tuple(preds.shape)} do not match targets of shape "
                                 f"{tuple(target.shape)}")
            diff = preds.detach() - target
            self.total.add_((diff.abs() if self.kind == "mae" else diff * diff).sum())  # in place: see Accuracy
            self.count.add_(diff.numel())

        def compute(self):
            mean = self.total / self.count
            return mean.sqrt() if self.kind == "rmse" else mean

    return MeanError


def error_metric(kind: str):
    """A fresh `MeanError` metric of `kind` "mse", "rmse" or "mae" (see `_error_class`)."""
    return _error_class()(kind)


def _classes_second(t):
    """torchmetrics wants logits as (batch, classes, ...); tasks give (batch, ..., classes)."""
    return t.movedim(-1, 1) if t.dim() > 2 else t


def standard_metrics(kind: str, num_classes: int | None = None, ignore_index: int | None = None,
                     positions: bool = False) -> dict[str, Any]:
    """Fresh torchmetrics objects for a task kind (without per-update argument checks: the loss has
    already checked the shapes, and the checks cost as much as the update).

    classification / sequence (class ids): ``accuracy``; with ``positions`` (outputs (batch,
    positions, classes)) per position, and ``exact_match`` of whole sequences. regression: ``rmse``,
    ``mae``; forecasting: ``mse``, ``mae``. ignore_index: a target value (padding) left out.
    """
    if kind in ("classification", "sequence"):
        if not num_classes:
            raise ValueError(f"{kind} metrics need num_classes, got {num_classes!r}")
        if not positions:
            return {"accuracy": accuracy_metric(ignore_index)}
        from torchmetrics.classification import MulticlassExactMatch
        from torchmetrics.wrappers import LambdaInputTransformer

        exact = MulticlassExactMatch(num_classes, multidim_average="global", ignore_index=ignore_index,
                                     validate_args=False)
        return {"accuracy": accuracy_metric(ignore_index),
                "exact_match": LambdaInputTransformer(exact, transform_pred=_classes_second)}
    if kind == "regression":
        return {"rmse": error_metric("rmse"), "mae": error_metric("mae")}
    if kind == "forecasting":
        return {"mse": error_metric("mse"), "mae": error_metric("mae")}
    raise ValueError(f"no standard metrics for task kind {kind!r}; expected one of "
                     f"classification, sequence, regression, forecasting")


class ArrayTask(Task):
    """A task whose splits are in-memory arrays, with the standard loss and metrics of its kind.

        ArrayTask("my/task", "regression", {"train": (x, y), "test": (x_test, y_test)})

    splits: {"train": (inputs, targets), "val": ... (optional), "test": ...}; arrays or `ArraySplit`s.
    kind: one of TASK_KINDS. Classification and sequence targets are class ids (int); regression
        and forecasting targets have shape (n, output_dim).
    num_classes: classes (classification; also class-conditional generation) or vocabulary of the
        output (sequence); inferred from integer training targets when omitted.
    loss: ``(output, target) -> scalar``; default: cross entropy for class ids, else MSE.
    metrics: ``() -> {name: torchmetrics.Metric}``; default: `standard_metrics` of the kind.
    ignore_index: target value skipped by the default loss and metrics (padding).
    """

    def __init__(self, name: str, kind: str, splits: dict[str, Any], *, num_classes: int | None = None,
                 output_dim: int | None = None, extra: dict[str, Any] | None = None, loss=None, metrics=None,
                 ignore_index: int = -100):
        if kind not in TASK_KINDS:
            raise ValueError(f"task kind {kind!r} is not one of {TASK_KINDS}")
        if "train" not in splits:
            raise ValueError(f"task {name!r} needs a 'train' split, got splits {sorted(splits)}")
        unknown = set(splits) - {"train", "val", "test"}
        if unknown:
            raise ValueError(f"task {name!r}: unknown split(s) {sorted(unknown)}; use train, val, test")
        self.name, self.kind, self.ignore_index = name, kind, ignore_index
        self._splits = {k: v if isinstance(v, ArraySplit) else ArraySplit(*v) for k, v in splits.items()}
        x, y = self._splits["train"].tensors[:2]
        classes = kind in ("classification", "sequence") and not y.is_floating_point()
        if classes and num_classes is None:
            num_classes = int(max(int(s.tensors[1].max()) for s in self._splits.values())) + 1
        if output_dim is None:
            output_dim = num_classes if classes else (y.shape[1] if y.dim() > 1 else 1)
        self._loss, self._metrics, self._classes = loss, metrics, classes
        self.info = TaskInfo(kind=kind, input_shape=tuple(x.shape[1:]), output_dim=int(output_dim),
                             num_classes=num_classes, extra=dict(extra or {}))

    def splits(self) -> dict[str, ArraySplit]:
        return dict(self._splits)

    def loss(self, output, batch):
        target = self.targets(batch)
        if self._loss is not None:
            return self._loss(output, target)
        if self._classes:
            return cross_entropy(output, target, self.ignore_index)
        return mse(output, target)

    def metrics(self) -> dict[str, Any]:
        if self._metrics is not None:
            return self._metrics()
        if self._classes:
            targets = [split.tensors[1] for split in self._splits.values()]
            padded = any(bool((t == self.ignore_index).any()) for t in targets)
            return standard_metrics("classification", self.info.num_classes,
                                    self.ignore_index if padded else None, positions=targets[0].dim() > 1)
        return standard_metrics(self.kind)
