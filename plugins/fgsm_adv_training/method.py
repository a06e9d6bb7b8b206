"""FGSM adversarial training: the fast gradient sign perturbation (Eq. 3) and the adversarial
objective (Eq. 6) of Goodfellow et al. (2015), as plain functions and as a zoo.Method.

Functional core (usable without zoo.train):

    x_adv = fgsm(model, F.cross_entropy, x, y, eps=0.25)           # x + eps sign(grad_x J)
    error = fgsm_error(model, x, y, eps=0.25)                       # error rate on those inputs

The Method binds them to zoo.train: `transform_batch` makes the input a leaf that requires grad,
so the loop's clean forward pass also yields grad_x J; `loss` builds x_adv from it, runs the model
on x_adv and returns the task's terms weighted alpha plus an "adversarial" term weighted 1 - alpha.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from pydantic import model_validator

from zoo.config import Field
from zoo.training.method import Method, MethodConfig, MethodMismatchError, task_terms

__all__ = ["FGSMAdvTrainingConfig", "FGSMAdversarialTraining", "perturb", "input_gradient", "fgsm",
           "adversarial_objective", "fgsm_error", "task_terms"]


# --- functional core --------------------------------------------------------------------------------


def perturb(x: torch.Tensor, grad: torch.Tensor, eps: float,
            input_range: tuple[float, float] | None = None) -> torch.Tensor:
    """x + eta with eta = eps sign(grad) (Eq. 3), clamped into input_range when given; detached,
    so that it enters the loss as a constant input (sign() has zero derivative almost everywhere)."""
    adversarial = x.detach() + eps * grad.sign()
    if input_range is not None:
        adversarial = adversarial.clamp(input_range[0], input_range[1])
    return adversarial.detach()


def input_gradient(model: Callable, loss_fn: Callable, x: torch.Tensor, y) -> torch.Tensor:
    """grad_x J(theta, x, y) with J = loss_fn(model(x), y), the model in whatever mode it is in.
    Only the input's gradient is computed: no `.grad` of any parameter is created or changed."""
    leaf = x.detach().requires_grad_(True)
    with torch.enable_grad():
        objective = loss_fn(model(leaf), y)
        (grad,) = torch.autograd.grad(objective, leaf, allow_unused=True)
    return torch.zeros_like(leaf) if grad is None else grad


def fgsm(model: Callable, loss_fn: Callable, x: torch.Tensor, y, eps: float, *,
         input_range: tuple[float, float] | None = None) -> torch.Tensor:
    """The fast gradient sign method: x + eps sign(grad_x J(theta, x, y)) (Eq. 3), detached."""
    return perturb(x, input_gradient(model, loss_fn, x, y), eps, input_range)


def adversarial_objective(clean_loss: torch.Tensor, adversarial_loss: torch.Tensor, alpha: float) -> torch.Tensor:
    """Eq. 6: alpha J(theta, x, y) + (1 - alpha) J(theta, x + eps sign(grad_x J), y)."""
    return alpha * clean_loss + (1.0 - alpha) * adversarial_loss


def fgsm_error(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, *,
               loss_fn: Callable = F.cross_entropy, input_range: tuple[float, float] | None = None,
               batch_size: int = 512, source: torch.nn.Module | None = None) -> float:
    """Error rate of classifier `model` on FGSM examples of (x, y), in eval mode (dropout off).
    source: the model whose gradient makes the examples (default `model` itself, the white-box
    attack of the paper; another model measures how the examples transfer)."""
    source = model if source is None else source
    modes = [(m, m.training) for m in {model, source}]
    for m, _ in modes:
        m.eval()
    wrong = 0
    try:
        for start in range(0, len(x), batch_size):
            xb, yb = x[start:start + batch_size], y[start:start + batch_size]
            x_adv = fgsm(source, loss_fn, xb, yb, eps, input_range=input_range) if eps > 0 else xb
            with torch.no_grad():
                wrong += int((model(x_adv).argmax(-1) != yb).sum())
    finally:
        for m, was_training in modes:
            m.train(was_training)
    return wrong / len(x)


# --- the method in zoo.train ------------------------------------------------------------------------


class FGSMAdvTrainingConfig(MethodConfig):
    """Options of FGSM adversarial training (defaults: the paper's MNIST setting, Sec. 6)."""

    eps: float = Field(0.25, ge=0, description="size eps of the perturbation eps sign(grad_x J) (max-norm); 0.25 "
                                                "for MNIST pixels in [0, 1] in the paper")
    alpha: float = Field(0.5, ge=0, le=1, description="weight of the clean loss in Eq. 6; the adversarial loss "
                                                      "has weight 1 - alpha (0.5 in all the paper's experiments)")
    input_range: tuple[float, float] | None = Field(
        None, description="clamp adversarial inputs into [low, high] (e.g. [0, 1]); None: no clamp, as in the paper")

    @model_validator(mode="after")
    def _ordered_range(self):
        if self.input_range is not None and not self.input_range[0] < self.input_range[1]:
            raise ValueError(f"input_range must be (low, high) with low < high, got {list(self.input_range)}")
        return self


def _first_input(task, batch) -> torch.Tensor:
    inputs = task.inputs(batch)
    return inputs[0] if isinstance(inputs, (list, tuple)) and inputs else inputs


def _replaced(batch, old: torch.Tensor, new: torch.Tensor):
    """`batch` with the tensor `old` (found by identity in a list, tuple or dict batch) replaced by
    `new`, or None when `old` is not one of its items."""
    if isinstance(batch, Mapping):
        keys = [k for k, v in batch.items() if v is old]
        return {**batch, keys[0]: new} if keys else None
    if isinstance(batch, (list, tuple)) and not hasattr(batch, "_fields"):
        index = next((i for i, item in enumerate(batch) if item is old), None)
        if index is None:
            return None
        items = list(batch)
        items[index] = new
        return items if isinstance(batch, list) else tuple(items)
    return None


def _training_input_dtype(task) -> torch.dtype | None:
    """The dtype of the task's first model input, read from its training split (None: unknown)."""
    try:
        split = task.splits()["train"]
        tensors = getattr(split, "tensors", None)
        first = _first_input(task, tensors if tensors else split[0])
    except Exception:  # noqa: BLE001 - a split we cannot read without loading it: the step checks instead
        return None
    return first.dtype if isinstance(first, torch.Tensor) else None


class FGSMAdversarialTraining(Method):
    """FGSM adversarial training (Goodfellow et al., 2015, Eq. 6): each step trains on
    alpha J(x) + (1 - alpha) J(x + eps sign(grad_x J(x))), with x_adv made from the current parameters."""

    name = "fgsm-adv-training"
    Config = FGSMAdvTrainingConfig

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        dtype = _training_input_dtype(task)
        if dtype is not None and not dtype.is_floating_point:
            return (f"a floating-point input to perturb (task {getattr(task, 'name', task)!r} gives {dtype} inputs: "
                    f"token ids and other integers have no gradient)")
        return None

    def transform_batch(self, batch, run):
        """The batch with its input replaced by a leaf that requires grad, so that the loop's clean
        forward pass also gives grad_x J (same pass, same dropout mask); unchanged if the task
        rebuilds its inputs from the batch (then `loss` takes a forward pass of its own)."""
        x = _first_input(run.task, batch)
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            what = f"{x.dtype} tensor" if isinstance(x, torch.Tensor) else type(x).__name__
            raise MethodMismatchError(f"method {self.name!r} cannot act on task {run.task.name!r}: it needs a "
                                      f"floating-point input to perturb, the batch's first input is a {what}")
        if x.requires_grad:
            return batch
        leaf = x.detach().requires_grad_(True)
        replaced = _replaced(batch, x, leaf)
        if replaced is None or _first_input(run.task, replaced) is not leaf:
            return batch
        return replaced

    def loss(self, terms: dict, output, batch, run) -> dict:
        """Eq. 6 as named terms: the task's terms times alpha, and "adversarial" = (1 - alpha) J(x_adv)."""
        eps, alpha, input_range = self.config.eps, self.config.alpha, self.config.input_range
        task, model = run.task, run.model
        inputs = tuple(task.inputs(batch))
        x, rest = inputs[0], inputs[1:]
        if x.requires_grad:  # the clean pass that gave `output` already reaches x
            clean = sum(task_terms(task, output, batch).values())
            (grad,) = torch.autograd.grad(clean, x, retain_graph=True, allow_unused=True)
            grad = torch.zeros_like(x) if grad is None else grad
        else:
            grad = input_gradient(lambda v: model(v, *rest), lambda out, _: sum(task_terms(task, out, batch).values()),
                                  x, None)
        x_adv = perturb(x, grad, eps, input_range)
        adversarial = task_terms(task, model(x_adv, *rest), batch)
        weighted = {name: alpha * value if name in adversarial else value for name, value in terms.items()}
        weighted["adversarial"] = (1.0 - alpha) * sum(adversarial.values())
        return weighted
