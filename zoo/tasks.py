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
from typing import Any

__all__ = ["TaskInfo", "Task", "TASK_KINDS"]

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
