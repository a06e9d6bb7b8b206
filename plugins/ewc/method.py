"""Elastic weight consolidation: the diagonal Fisher, the quadratic penalty of Eq. 3, and the `ewc` method.

Kirkpatrick et al. (2017) learn tasks A, B, C, ... in turn. After task A the weights theta*_A and
the diagonal of the Fisher information F at theta*_A are kept; learning task B then minimises

    L(theta) = L_B(theta) + sum_i (lambda / 2) F_i (theta_i - theta*_A,i)^2            (Eq. 3)

and after task B a second penalty, anchored at theta*_B with the Fisher of task B, is added (one
penalty per earlier task, as the paper's "two separate penalties"). The functional core acts on a
model and tensors, without zoo.train:

    fisher_diagonal(model, batches, generator=g)        F_i = E_x E_{y ~ p(y|x)} (d log p(y|x) / d theta_i)^2
    consolidation(model, fisher)                        {"anchor": theta*, "fisher": F}
    quadratic_penalty(params, consolidations)           sum_k sum_i F_k,i (theta_i - theta*_k,i)^2

`EWC` binds them to zoo.train (the penalty is the loss term "ewc") and runs a whole sequence of
tasks as a procedure (`EWC.run`); `penalty="l2"` sets F_i = 1, the paper's L2 baseline.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

import torch

from zoo.config import Field
from zoo.errors import ConfigError
from zoo.training.method import Method, MethodConfig, MethodMismatchError

__all__ = ["EWC", "EWCConfig", "SequenceResult", "fisher_diagonal", "consolidation", "quadratic_penalty",
           "task_batches"]

# per-sample gradients are taken this many samples at a time (memory: chunk x parameters floats)
FISHER_CHUNK = 64


# --- functional core ------------------------------------------------------------------------------


def trainable(model: torch.nn.Module) -> dict[str, torch.nn.Parameter]:
    """The parameters EWC protects: every trainable parameter of the model, by name."""
    return {name: p for name, p in model.named_parameters() if p.requires_grad}


def fisher_diagonal(model: torch.nn.Module, batches: Iterable[tuple[tuple, torch.Tensor | None]], *,
                    generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    """The diagonal of the Fisher information of a classifier's predictive distribution, at its
    current weights, averaged over the samples of `batches`.

    batches: (inputs, labels) pairs, inputs a tuple of the model's positional inputs with the
        samples on dim 0, the model returning class logits (samples, classes). labels None: the true
        Fisher of the paper, y drawn from the model's own p(y|x) (with `generator`); labels given:
        the empirical Fisher, y the data's labels.
    Per-sample gradients of log p(y|x) come from torch.func (vmap of grad), in eval mode (dropout
    off), so F_i is the mean of the squared per-sample gradients, exactly, not of batch gradients.
    """
    from torch.func import functional_call, grad, vmap

    params = {name: p.detach() for name, p in trainable(model).items()}
    buffers = dict(model.named_buffers())
    fisher = {name: torch.zeros_like(p) for name, p in params.items()}
    count = 0

    def log_likelihood(weights, inputs, label):
        logits = functional_call(model, (weights, buffers), tuple(x.unsqueeze(0) for x in inputs))
        return torch.log_softmax(logits, dim=-1)[0].gather(0, label.unsqueeze(0)).squeeze(0)

    per_sample_gradients = vmap(grad(log_likelihood), in_dims=(None, 0, 0))
    was_training = model.training
    model.eval()
    try:
        for inputs, labels in batches:
            if labels is None:  # the true Fisher: y ~ p(y | x, theta*)
                with torch.no_grad():
                    probabilities = torch.softmax(model(*inputs).float(), dim=-1)
                labels = torch.multinomial(probabilities.cpu(), 1, generator=generator).squeeze(1)
            labels = labels.to(params[next(iter(params))].device)
            grads = per_sample_gradients(params, inputs, labels)
            for name, g in grads.items():
                fisher[name] += g.pow(2).sum(0)
            count += labels.shape[0]
    finally:
        model.train(was_training)
    if count == 0:
        raise ConfigError("the Fisher information needs at least one sample")
    return {name: f / count for name, f in fisher.items()}


def consolidation(model: torch.nn.Module, fisher: dict[str, torch.Tensor] | None) -> dict:
    """One earlier task's penalty: the weights now (theta*) and their importances F (None: F_i = 1,
    the L2 anchor)."""
    anchor = {name: p.detach().clone() for name, p in trainable(model).items()}
    return {"anchor": anchor, "fisher": None if fisher is None else {k: v.detach().clone() for k, v in fisher.items()}}


def quadratic_penalty(params: dict[str, torch.Tensor], consolidations: list[dict]) -> torch.Tensor:
    """sum_k sum_i F_k,i (theta_i - theta*_k,i)^2 over the earlier tasks k (Eq. 3 without lambda/2;
    F_k = 1 where a consolidation has no Fisher)."""
    total = None
    for kept in consolidations:
        fisher = kept["fisher"]
        for name, anchor in kept["anchor"].items():
            squared = (params[name] - anchor).pow(2)
            term = (squared if fisher is None else fisher[name] * squared).sum()
            total = term if total is None else total + term
    if total is None:
        return torch.zeros(())
    return total


def task_batches(model: torch.nn.Module, task, *, split: str = "train", samples: int | None = None,
                 labels: bool = False, generator: torch.Generator | None = None):
    """(inputs, labels) chunks of a zoo task's split on the model's device, for `fisher_diagonal`:
    `samples` of them drawn at random (None: all, in order); labels None unless `labels`."""
    from accelerate.utils import send_to_device
    from torch.utils.data import Subset

    from zoo.training.data import make_loader

    data = task.splits()[split]
    if samples is not None and samples < len(data):
        chosen = torch.randperm(len(data), generator=generator)[:samples].sort().values
        data = Subset(data, chosen.tolist())
    loader, _ = make_loader(data, FISHER_CHUNK, shuffle=False, seed=0)
    device = next(model.parameters()).device
    for batch in loader:
        batch = send_to_device(batch, device)
        yield tuple(task.inputs(batch)), (task.targets(batch) if labels else None)


# --- the method -----------------------------------------------------------------------------------


class EWCConfig(MethodConfig):
    """Options of EWC (Kirkpatrick et al. 2017). The paper gives no lambda for its MNIST experiments;
    the default is the value the reproduction's selection protocol picked on permuted digits."""

    importance: float = Field(1000.0, ge=0, description="lambda of Eq. 3: how much the earlier tasks' weights "
                                                         "count against the new task's loss")
    penalty: Literal["fisher", "l2"] = Field("fisher", description="fisher: F_i of Eq. 3 (EWC); l2: F_i = 1, "
                                                                   "the paper's L2 anchor to the earlier weights")
    fisher: Literal["true", "empirical"] = Field("true", description="true: y drawn from the model's p(y|x), as "
                                                                     "the paper; empirical: the data's labels")
    fisher_samples: int | None = Field(None, ge=1, description="training samples the Fisher averages over, "
                                                                "drawn at random; None: the whole split")
    seed: int = Field(0, ge=0, description="seed of the Fisher's draws (samples and labels)")


@dataclass
class SequenceResult:
    """What `EWC.run` returns. accuracy[t][j]: accuracy on task j (its `score_split`) after training
    task t (j > t: tasks not trained yet). runs: each task's TrainResult."""

    accuracy: list[list[float]]
    runs: list = field(default_factory=list)

    @property
    def final(self) -> list[float]:
        """Accuracy on every task after the last one."""
        return self.accuracy[-1]


class EWC(Method):
    """Elastic weight consolidation: the penalty of Eq. 3 as the loss term "ewc", toward every
    consolidated earlier task.

    As a step method: ``ewc.consolidate(model, task_a)`` after training task A, then
    ``zoo.train(model, task_b, methods=[ewc])``. As a procedure over a sequence of tasks:
    ``zoo.method("ewc").run(model, [task_a, task_b, ...], epochs=..., out_dir=...)``.
    """

    name = "ewc"
    Config = EWCConfig
    task_kinds = ("classification",)

    def __init__(self, **options):
        super().__init__(**options)
        self.consolidations: list[dict] = []
        self._params: dict[str, torch.Tensor] = {}

    # --- between tasks ------------------------------------------------------------------------------

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        if not any(p.requires_grad for p in model.parameters()):
            return "trainable parameters"
        return None

    def consolidate(self, model: torch.nn.Module, task, *, split: str = "train") -> dict:
        """Keep the model's weights now and, for penalty "fisher", their Fisher on `task`'s `split`
        (a task name, Task or data as zoo.train takes): later runs are pulled back toward them."""
        from zoo.training.data import as_task
        from zoo.training.loop import _model_label

        task = as_task(task)
        missing = self.check(model, task)
        if missing:
            raise MethodMismatchError(f"method {self.name!r} cannot act on model {_model_label(model)!r} with task "
                                      f"{getattr(task, 'name', task)!r}: it needs {missing}")
        fisher = None
        if self.config.penalty == "fisher":
            # each consolidation draws from its own seeded generator: recomputed after a resume, it is the same
            generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + len(self.consolidations))
            batches = task_batches(model, task, split=split, samples=self.config.fisher_samples,
                                   labels=self.config.fisher == "empirical", generator=generator)
            fisher = fisher_diagonal(model, batches, generator=generator)
        kept = consolidation(model, fisher)
        self.consolidations.append(kept)
        return kept

    def penalty(self, params: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """(lambda / 2) sum_k sum_i F_k,i (theta_i - theta*_k,i)^2 at `params` (default: the run's)."""
        return 0.5 * self.config.importance * quadratic_penalty(params or self._params, self.consolidations)

    # --- events -------------------------------------------------------------------------------------

    def setup(self, run) -> None:
        self._params = dict(run.model.named_parameters())
        for kept in self.consolidations:
            for name, anchor in kept["anchor"].items():
                if name not in self._params or self._params[name].shape != anchor.shape:
                    raise MethodMismatchError(
                        f"method {self.name!r} holds weights consolidated on another model: parameter {name!r} "
                        f"{tuple(anchor.shape)} is not in this model with that shape")
        self._device = run.device
        self.consolidations = [_moved(kept, run.device) for kept in self.consolidations]
        self._warn_if_stiff(run.config)

    def _warn_if_stiff(self, config) -> None:
        """Plain SGD on the penalty alone steps weight i by lr * lambda * F_i times its distance to
        the anchor: at 2 or more it overshoots further each step and the run diverges."""
        if getattr(config, "optimizer", None) != "sgd" or not self.consolidations:
            return
        summed: dict[str, torch.Tensor] = {}  # per weight, the curvature of all penalties together
        for kept in self.consolidations:
            for name, anchor in kept["anchor"].items():
                f = torch.ones_like(anchor) if kept["fisher"] is None else kept["fisher"][name]
                summed[name] = summed[name] + f if name in summed else f
        largest = max(float(f.max()) for f in summed.values())
        stiffness = config.lr * self.config.importance * largest
        if stiffness >= 2:
            warnings.warn(f"method 'ewc': lr x importance x largest F = {stiffness:.3g} >= 2, so plain SGD on the "
                          f"penalty diverges; lower lr or importance", stacklevel=2)

    def loss(self, terms: dict, output, batch, run) -> dict:
        if not self.consolidations:
            return terms
        return {**terms, "ewc": self.penalty()}

    def end(self, run) -> None:
        self._params = {}

    def state_dict(self) -> dict:
        return {"consolidations": [{"anchor": kept["anchor"], "fisher": kept["fisher"] or {}}
                                   for kept in self.consolidations]}

    def load_state_dict(self, state: dict) -> None:
        device = getattr(self, "_device", None)
        self.consolidations = [_moved({"anchor": dict(kept["anchor"]), "fisher": dict(kept["fisher"]) or None}, device)
                               for kept in state["consolidations"]]

    # --- the procedure ------------------------------------------------------------------------------

    def run(self, model, tasks, *, out_dir=None, resume: bool = False, score_split: str = "test",
            **train_options) -> SequenceResult:
        """Train `model` on `tasks` in turn (each a task name, Task or data as zoo.train takes), with
        the penalty toward every earlier task; consolidate after each (the sequence starts with no
        consolidation: earlier `consolidate` calls are dropped). Returns the accuracy on
        every task after each one. out_dir/resume: a killed sequence resumes at the task it was
        in (finished tasks are not trained again); the consolidations are kept beside the runs."""
        from zoo.training.data import as_task
        from zoo.training.loop import _model_label, evaluate
        from zoo.training.procedure import Stages

        if isinstance(tasks, (str, dict)) or not isinstance(tasks, (list, tuple)) or len(tasks) < 2:
            raise MethodMismatchError(f"method {self.name!r} cannot run on model {_model_label(model)!r}: it needs "
                                      f"a sequence of at least 2 tasks (a list), got {tasks!r:.80}")
        tasks = [as_task(task) for task in tasks]
        for task in tasks:  # before anything trains: a bad third task must not cost two trained ones
            missing = self.check(model, task)
            if missing:
                raise MethodMismatchError(f"method {self.name!r} cannot act on model {_model_label(model)!r} with "
                                          f"task {task.name!r}: it needs {missing}")
        self.consolidations = []
        accuracy, runs = [], []
        with Stages(out_dir, resume, procedure=self) as stages:
            for index, task in enumerate(tasks):
                runs.append(stages.train(f"task-{index}", model, task, methods=[self], **train_options))
                accuracy.append([evaluate(model, other, split=score_split).get("accuracy", float("nan"))
                                 for other in tasks])
                if index + 1 < len(tasks):
                    kept = self.consolidate(model, task)
                    flat = stages.keep(f"consolidation-{index}", _flatten(kept))
                    self.consolidations[-1] = _moved(_unflatten(flat), next(model.parameters()).device)
        return SequenceResult(accuracy=accuracy, runs=runs)


def _moved(kept: dict, device) -> dict:
    if device is None:
        return kept
    fisher = kept["fisher"]
    return {"anchor": {k: v.to(device) for k, v in kept["anchor"].items()},
            "fisher": None if fisher is None else {k: v.to(device) for k, v in fisher.items()}}


def _flatten(kept: dict) -> dict[str, torch.Tensor]:
    flat = {f"anchor/{k}": v for k, v in kept["anchor"].items()}
    flat.update({f"fisher/{k}": v for k, v in (kept["fisher"] or {}).items()})
    return flat


def _unflatten(flat: dict[str, torch.Tensor]) -> dict:
    parts: dict[str, dict] = {"anchor": {}, "fisher": {}}
    for key, value in flat.items():
        kind, _, name = key.partition("/")
        parts[kind][name] = value
    return {"anchor": parts["anchor"], "fisher": parts["fisher"] or None}
