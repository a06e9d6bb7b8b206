"""Quantized distillation (Polino, Pascanu & Alistarh, 2018, Sec. 2 and Algorithm 1): a student whose
weights are uniformly quantized in the forward pass, trained on a full-precision teacher's
distillation loss, with full-precision copies of the weights updated by the straight-through
estimator.

The functional core works without zoo.train:

    uniform_quantize(v, bits, bucket)     Q(v) of Sec. 2.1: per bucket of `bucket` values, scale to
                                          [0, 1] by (v - min) / (max - min), round to one of s + 1 = 2^bits
                                          equally spaced points, scale back; straight-through gradient
    distillation_loss(student, teacher, labels, T, soft_weight)
                                          Sec. 2.2: the weighted average of the cross entropy with the
                                          teacher's soft targets at temperature T (times T^2) and the
                                          cross entropy with the labels
    quantize_weights(model, bits, bucket) put the quantizer on the weights of the model's Linear/Conv
                                          layers (torch.nn.utils.parametrize: the Parameters stay the
                                          full-precision copies the optimizer updates)

`QuantizedDistillation` is the structural method: prepare() adds the quantizer, the `loss` event
replaces the task's cross entropy by the distillation loss. Without a teacher (soft_weight=0) it is
the paper's baseline, quantized training on the labels alone.
"""

from __future__ import annotations

import fnmatch

import torch
from torch import nn
from torch.nn.utils import parametrize

from zoo.config import Field
from zoo.training.method import Method, MethodConfig

__all__ = ["uniform_quantize", "UniformQuantizer", "quantizable_layers", "quantize_weights", "distillation_loss",
           "quantized_state", "QuantizedDistillationConfig", "QuantizedDistillation"]

_QUANTIZABLE = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


class _RoundSTE(torch.autograd.Function):
    """Rounding with the straight-through estimator: the gradient passes unchanged (Algorithm 1
    applies the gradient computed at the quantized weights to the full-precision ones)."""

    @staticmethod
    def forward(ctx, x):
        return torch.round(x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def uniform_quantize(v: torch.Tensor, bits: int, bucket: int = 256) -> torch.Tensor:
    """Q(v) of Sec. 2.1 with scaling and bucketing: v is flattened and cut into buckets of `bucket`
    consecutive values (the last may be shorter); each bucket is scaled by sc(v) = (v - beta) / alpha,
    alpha = max - min, beta = min, onto [0, 1], rounded to the nearest of the s + 1 = 2^bits points
    i / s, and scaled back (sc^-1). Deterministic rounding; gradient straight through."""
    levels = float(2 ** bits - 1)  # s: s + 1 points i / s in [0, 1]
    flat = v.reshape(-1)
    pad = (-flat.numel()) % bucket
    # pad the last bucket with its own last value: it changes neither its min nor its max
    padded = torch.cat([flat, flat[-1:].expand(pad)]) if pad else flat
    buckets = padded.view(-1, bucket)
    low = buckets.min(dim=1, keepdim=True).values.detach()
    span = (buckets.max(dim=1, keepdim=True).values.detach() - low)
    span = torch.where(span > 0, span, torch.ones_like(span))  # a constant bucket is already on a point
    scaled = (buckets - low) / span
    quantized = _RoundSTE.apply(scaled * levels) / levels * span + low
    return quantized.reshape(-1)[:flat.numel()].view_as(v)


class UniformQuantizer(nn.Module):
    """The parametrization a quantized layer's weight goes through in every forward pass."""

    def __init__(self, bits: int, bucket: int):
        super().__init__()
        self.bits, self.bucket = bits, bucket

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return uniform_quantize(weight, self.bits, self.bucket)

    def extra_repr(self) -> str:
        return f"bits={self.bits}, bucket={self.bucket}"


def quantizable_layers(model: nn.Module, skip=()) -> list[str]:
    """Names of the Linear / Conv layers whose weights are quantized (those not matching an fnmatch
    pattern in `skip`), in registration order."""
    return [name for name, module in model.named_modules()
            if isinstance(module, _QUANTIZABLE) and not any(fnmatch.fnmatchcase(name, p) for p in skip)]


def quantize_weights(model: nn.Module, bits: int, bucket: int = 256, skip=()) -> list[str]:
    """Quantize the weights of the model's Linear / Conv layers in every forward pass; returns their
    names. The weight Parameter objects are kept (as parametrizations.weight.original), so an
    optimizer built before or after sees the same full-precision tensors. Biases stay full precision."""
    names = quantizable_layers(model, skip)
    for name in names:
        layer = model.get_submodule(name)
        if parametrize.is_parametrized(layer, "weight"):
            for existing in layer.parametrizations.weight:
                if isinstance(existing, UniformQuantizer):
                    existing.bits, existing.bucket = bits, bucket
            continue
        parametrize.register_parametrization(layer, "weight", UniformQuantizer(bits, bucket))
    return names


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor | None, labels: torch.Tensor,
                      temperature: float, soft_weight: float) -> torch.Tensor:
    """Sec. 2.2: soft_weight * T^2 * H(softmax(teacher / T), softmax(student / T)) + (1 - soft_weight) *
    H(labels, softmax(student)). T^2 keeps the soft term's gradients on the scale of the hard one's as T
    changes (Hinton et al., 2015, which the paper follows). soft_weight 0: the labels alone."""
    hard = nn.functional.cross_entropy(student_logits, labels)
    if soft_weight == 0 or teacher_logits is None:
        return hard
    soft_teacher = torch.softmax(teacher_logits.detach() / temperature, dim=1)
    soft = -(soft_teacher * torch.log_softmax(student_logits / temperature, dim=1)).sum(dim=1).mean()
    return soft_weight * temperature ** 2 * soft + (1 - soft_weight) * hard


class QuantizedDistillationConfig(MethodConfig):
    bits: int = Field(4, ge=1, le=16, description="bits b of every quantized weight: s + 1 = 2^b points per bucket")
    bucket_size: int = Field(256, ge=1, description="values per bucket, each scaled on its own (the paper's 256)")
    temperature: float = Field(2.0, gt=0, description="T of the soft targets softmax(teacher logits / T) (the paper's "
                                                       "text gives no value)")
    soft_weight: float = Field(0.7, ge=0, le=1, description="weight of the soft-target cross entropy in the weighted "
                                                            "average with the labels' (the paper's text gives no "
                                                            "value); 0: no teacher, quantized training alone")
    skip: list[str] = Field([], description="fnmatch patterns of Linear/Conv layer names kept at full precision")


class QuantizedDistillation(Method):
    """Quantized distillation: a student with uniformly quantized weights (scaling and bucketing),
    full-precision copies updated through the straight-through estimator, trained on the
    distillation loss from a full-precision teacher.

    Structural: prepare() puts the quantizer on the Linear / Conv weights (zoo.save records the
    method, zoo.load re-applies it). The weights file holds the full-precision copies; the model
    computes with their quantized values, `quantized_state(model)` gives those."""

    name = "quantized-distillation"
    Config = QuantizedDistillationConfig
    structural = True
    task_kinds = ("classification",)
    layer_types = _QUANTIZABLE
    objects = {"teacher": "the trained full-precision teacher, an nn.Module taking the same inputs as the student "
                          "and giving logits over the same classes (not needed with soft_weight=0)"}
    conflicts = {"dorefa": "both quantize the same weights, each with its own quantizer",
                 "lottery-ticket": "its pruning masks hold weights at zero, but the bucket quantizer maps a zero "
                                   "to the nearest of its points, which is not zero in general"}

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing and missing.startswith("teacher=") and self.config.soft_weight == 0:
            missing = None  # no soft targets: no teacher needed
        if missing:
            return missing
        if self.config.soft_weight > 0:
            if not isinstance(self.teacher, nn.Module):
                return f"teacher= as an nn.Module (got {type(self.teacher).__name__})"
            if self.teacher is model:
                return "a teacher other than the student itself"
        if not quantizable_layers(model, self.config.skip):
            return f"a Linear or Conv layer to quantize that skip={self.config.skip} does not exclude"
        return None

    def prepare(self, model) -> None:
        quantize_weights(model, self.config.bits, self.config.bucket_size, self.config.skip)

    def setup(self, run) -> None:
        if self.config.soft_weight > 0:
            self.teacher.to(run.device).eval()  # fixed: no dropout, no batch-norm statistics updates

    def loss(self, terms: dict, output, batch, run) -> dict:
        teacher_logits = None
        if self.config.soft_weight > 0:
            with torch.no_grad():
                teacher_logits = self.teacher(*run.task.inputs(batch))
        out = {k: v for k, v in terms.items() if k != "task"}  # the distillation loss replaces the task's
        out["distillation"] = distillation_loss(output, teacher_logits, run.task.targets(batch),
                                                self.config.temperature, self.config.soft_weight)
        return out


def quantized_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights as it computes with them (quantized where quantized), under plain names."""
    with torch.no_grad():
        out = {}
        for name, module in model.named_modules():
            if parametrize.is_parametrized(module, "weight"):
                out[f"{name}.weight" if name else "weight"] = module.weight.detach().clone()
        return out
