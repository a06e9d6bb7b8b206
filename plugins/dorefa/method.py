"""DoReFa-Net's quantizers of weights, activations and gradients, the layers that apply them, and
the `dorefa` method that puts those layers into a model.

The functional core works without zoo.train:

    quantize(r, k)                    Eq. 5: round((2^k - 1) r) / (2^k - 1), straight-through backward
    quantize_weights(w, k)            Eq. 7/8 (k = 1: E(|w|) sign(w)) and Eq. 9 (k > 1)
    quantize_activations(x, k)        Eq. 10: x clipped to [0, 1], then quantize_k
    quantize_gradient(g, k)           Eq. 12: per-instance max scaling, uniform noise, quantize, rescale
    with_quantized_gradient(y, k)     y unchanged forward; Eq. 12 applied to dL/dy in the backward pass
    apply_dorefa(model, ...)          swap the model's Linear/Conv layers for DoReFa layers in place

A DoReFa layer quantizes its input (the activation the previous nonlinearity produced), its weight,
and, in the backward pass, the gradient arriving at its output; k = 32 turns a quantizer off.
"""

from __future__ import annotations

import fnmatch

import torch
import torch.nn.functional as F
from torch import nn

from zoo import Field
from zoo.training.method import Method, MethodConfig

__all__ = ["FULL_PRECISION", "quantize", "quantize_weights", "quantize_activations", "quantize_gradient",
           "with_quantized_gradient", "DoReFaLinear", "DoReFaConv1d", "DoReFaConv2d", "DoReFaConv3d",
           "quantizable_layers", "layers_to_quantize", "apply_dorefa", "DoReFaConfig", "DoReFa"]

FULL_PRECISION = 32  # a bitwidth of 32 means "not quantized", as in the paper's tables (32/32/32)


def _levels(bits: int) -> float:
    return float(2 ** bits - 1)


class _RoundSTE(torch.autograd.Function):
    """quantize_k of Eq. 5: the forward rounds to the k-bit grid of [0, 1], the backward passes
    the gradient through unchanged (the straight-through estimator, dc/dr_i = dc/dr_o)."""

    @staticmethod
    def forward(ctx, r, levels: float):
        return torch.round(r * levels) / levels

    @staticmethod
    def backward(ctx, grad):
        return grad, None


class _SignSTE(torch.autograd.Function):
    """Eq. 7/8: r_o = E(|r_i|) sign(r_i) forward, dc/dr_i = dc/dr_o backward. E(|r_i|) is the mean
    over the whole layer (one scalar for all filters, as the paper says). sign(0) is taken as +1 so
    that the weights take exactly two values."""

    @staticmethod
    def forward(ctx, r):
        scale = r.abs().mean()
        return torch.where(r >= 0, scale, -scale)

    @staticmethod
    def backward(ctx, grad):
        return grad


def quantize(r: torch.Tensor, bits: int) -> torch.Tensor:
    """quantize_k (Eq. 5) of r in [0, 1]: one of the 2^k values i / (2^k - 1), straight-through
    gradient."""
    if bits >= FULL_PRECISION:
        return r
    return _RoundSTE.apply(r, _levels(bits))


def quantize_weights(w: torch.Tensor, bits: int) -> torch.Tensor:
    """f_w^k of the paper: k = 1, E(|w|) sign(w) (Eq. 7/8); k > 1, Eq. 9,
    2 quantize_k(tanh(w) / (2 max|tanh(w)|) + 1/2) - 1, which lies in [-1, 1] on 2^k levels.
    The gradient flows through tanh and the max, and straight through the rounding."""
    if bits >= FULL_PRECISION:
        return w
    if bits == 1:
        return _SignSTE.apply(w)
    t = torch.tanh(w)
    # an all-zero weight would divide 0 by 0; any positive scale maps it to the same level
    largest = t.abs().max().clamp_min(torch.finfo(t.dtype).tiny)
    return 2 * quantize(t / (2 * largest) + 0.5, bits) - 1


def quantize_activations(x: torch.Tensor, bits: int) -> torch.Tensor:
    """f_a^k (Eq. 10): the activation is bounded to [0, 1] (the paper's bounded activation h: a clip,
    whose gradient is 1 inside and 0 outside) and quantized to k bits."""
    if bits >= FULL_PRECISION:
        return x
    return quantize(torch.clamp(x, 0.0, 1.0), bits)


def quantize_gradient(g: torch.Tensor, bits: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """f_gamma^k (Eq. 12) of a gradient g whose first axis is the mini-batch:

        2 max_0(|g|) [quantize_k(g / (2 max_0(|g|)) + 1/2 + N(k)) - 1/2],   N(k) = sigma / (2^k - 1),

    sigma ~ Uniform(-1/2, 1/2), max_0 the maximum over every axis but the batch axis (one scale
    per instance). The noise makes the rounding stochastic, so the result is unbiased. Values are
    clipped to [0, 1] before rounding, which only matters where the noise pushes the extreme
    instance value past the grid (2^k levels always). Draws from `generator` (default: torch's
    global generator, which zoo.train checkpoints)."""
    if bits >= FULL_PRECISION:
        return g
    levels = _levels(bits)
    if g.dim() > 1:
        largest = g.abs().amax(dim=tuple(range(1, g.dim())), keepdim=True)
    else:  # no batch axis: the whole tensor is one instance
        largest = g.abs().amax()
    # an instance whose gradient is all zero stays zero (its scale would divide 0 by 0)
    scale = torch.where(largest > 0, largest, torch.ones_like(largest))
    noise = (torch.rand(g.shape, generator=generator, device=g.device, dtype=g.dtype) - 0.5) / levels
    grid = torch.round((g / (2 * scale) + 0.5 + noise).clamp(0.0, 1.0) * levels) / levels
    return 2 * largest * (grid - 0.5)


class _GradientQuantizer(torch.autograd.Function):
    """Identity forward; the backward pass quantizes the incoming gradient with Eq. 12."""

    @staticmethod
    def forward(ctx, y, bits: int):
        ctx.bits = bits
        return y.view_as(y)

    @staticmethod
    def backward(ctx, grad):
        return quantize_gradient(grad, ctx.bits), None


def with_quantized_gradient(y: torch.Tensor, bits: int) -> torch.Tensor:
    """y itself in the forward pass; in the backward pass dL/dy is replaced by f_gamma^k(dL/dy)
    before it reaches the layer that produced y (its weight and input gradients use it)."""
    if bits >= FULL_PRECISION or not y.requires_grad:
        return y
    return _GradientQuantizer.apply(y, bits)


# --- layers ---------------------------------------------------------------------------------------


class _DoReFaLayer:
    """What every DoReFa layer does around its own operation (Algorithm 1 of the paper, one layer):
    quantize the incoming activation (f_a), use the quantized weight (f_w), and quantize the
    gradient arriving at the output (f_gamma). The bias, when the layer has one, stays at full
    precision. The bitwidths are plain attributes, not state: the weights file stays the layer's."""

    weight_bits: int = FULL_PRECISION
    activation_bits: int = FULL_PRECISION
    gradient_bits: int = FULL_PRECISION

    def _apply_weight(self, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = quantize_activations(x, self.activation_bits)
        y = self._apply_weight(x, quantize_weights(self.weight, self.weight_bits))
        return with_quantized_gradient(y, self.gradient_bits)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, weight_bits={self.weight_bits}, activation_bits={self.activation_bits}, "
                f"gradient_bits={self.gradient_bits}")


class DoReFaLinear(_DoReFaLayer, nn.Linear):
    def _apply_weight(self, x, weight):
        return F.linear(x, weight, self.bias)


class DoReFaConv1d(_DoReFaLayer, nn.Conv1d):
    def _apply_weight(self, x, weight):
        return self._conv_forward(x, weight, self.bias)


class DoReFaConv2d(_DoReFaLayer, nn.Conv2d):
    def _apply_weight(self, x, weight):
        return self._conv_forward(x, weight, self.bias)


class DoReFaConv3d(_DoReFaLayer, nn.Conv3d):
    def _apply_weight(self, x, weight):
        return self._conv_forward(x, weight, self.bias)


# exact types only: a subclass of nn.Linear has a forward of its own, which a swap would lose
_QUANTIZED = {nn.Linear: DoReFaLinear, nn.Conv1d: DoReFaConv1d, nn.Conv2d: DoReFaConv2d, nn.Conv3d: DoReFaConv3d}
_DOREFA_TYPES = tuple(_QUANTIZED.values())


def _as_dorefa(layer: nn.Module, bits: tuple[int, int, int]) -> nn.Module:
    """A DoReFa layer holding `layer`'s own Parameter and buffer objects (the optimizer, tied
    weights and the weights file see the same tensors) and its options (stride, padding, ...)."""
    new = _QUANTIZED[type(layer)].__new__(_QUANTIZED[type(layer)])
    for key, value in layer.__dict__.items():
        # the module's registries (parameters, buffers, submodules, hooks) are copied as
        # containers so the two modules do not share them; the tensors inside are the same objects
        new.__dict__[key] = type(value)(value) if isinstance(value, (dict, set)) else value
    new.weight_bits, new.activation_bits, new.gradient_bits = bits
    return new


def quantizable_layers(model: nn.Module) -> list[str]:
    """Names of the layers DoReFa can quantize, in registration order: modules of exactly
    nn.Linear or nn.Conv1d/2d/3d (or already DoReFa layers) below the model itself. Layers inside
    nn.MultiheadAttention are left out: it reads their weights directly and never calls them."""
    found, inside_attention = [], []
    for name, module in model.named_modules():
        if isinstance(module, nn.MultiheadAttention):
            inside_attention.append(name + ".")
            continue
        if name and any(name.startswith(prefix) for prefix in inside_attention):
            continue
        # the model itself cannot be swapped in place: a bare nn.Linear is not a model DoReFa changes
        if name and (type(module) in _QUANTIZED or isinstance(module, _DOREFA_TYPES)):
            found.append(name)
    return found


def layers_to_quantize(model: nn.Module, *, quantize_first_last: bool = False, skip=()) -> list[str]:
    """The layers DoReFa swaps: the quantizable ones, without the first and the last (in
    registration order; the paper keeps them at full precision) unless asked, and without those
    whose name matches one of the fnmatch patterns in `skip`."""
    names = quantizable_layers(model)
    if not quantize_first_last:
        names = names[1:-1]
    return [n for n in names if not any(fnmatch.fnmatchcase(n, pattern) for pattern in skip)]


def apply_dorefa(model: nn.Module, weight_bits: int = 1, activation_bits: int = 2, gradient_bits: int = 6, *,
                 quantize_first_last: bool = False, skip=()) -> list[str]:
    """Swap the chosen layers of `model` (see `layers_to_quantize`) for DoReFa layers in place;
    returns their names. A layer that already is a DoReFa layer takes the new bitwidths."""
    bits = (weight_bits, activation_bits, gradient_bits)
    names = layers_to_quantize(model, quantize_first_last=quantize_first_last, skip=skip)
    for name in names:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        layer = getattr(parent, child)
        if isinstance(layer, _DOREFA_TYPES):
            layer.weight_bits, layer.activation_bits, layer.gradient_bits = bits
        else:
            setattr(parent, child, _as_dorefa(layer, bits))
    return names


# --- the method -----------------------------------------------------------------------------------


class DoReFaConfig(MethodConfig):
    """DoReFa-Net's options. Defaults: the paper's headline configuration (abstract; AlexNet in
    Table 1): 1-bit weights, 2-bit activations, 6-bit gradients, first and last layer at full
    precision."""

    weight_bits: int = Field(1, ge=1, le=32, description="bitwidth W of the weights (1: E(|w|) sign(w), Eq. 7/8; "
                                                         "2..31: Eq. 9; 32: not quantized)")
    activation_bits: int = Field(2, ge=1, le=32, description="bitwidth A of the activations entering each quantized "
                                                             "layer, clipped to [0, 1] first (Eq. 10; 32: neither)")
    gradient_bits: int = Field(6, ge=1, le=32, description="bitwidth G of the gradients at each quantized layer's "
                                                           "output, with stochastic rounding (Eq. 12; 32: not quantized)")
    quantize_first_last: bool = Field(False, description="also quantize the first and the last Linear/Conv layer "
                                                         "(the paper keeps both at full precision)")
    skip: list[str] = Field([], description="fnmatch patterns of further layer names to keep at full precision")


class DoReFa(Method):
    """DoReFa-Net (Zhou et al., 2016): train with low-bitwidth weights, activations and gradients.

    Structural: prepare() swaps the model's nn.Linear / nn.Conv1d/2d/3d layers, except the first and
    the last, for DoReFa layers that reuse their Parameters; zoo.save records the method and
    zoo.load re-applies it. It acts at no training event: every other method (an adversarial
    batch, a distillation loss) sees the quantized model, whatever the order in `methods=[...]`.
    """

    name = "dorefa"
    Config = DoReFaConfig
    structural = True
    layer_types = tuple(_QUANTIZED)
    conflicts = {
        "lottery-ticket": "lottery-ticket holds pruned weights at zero, but DoReFa's weight quantizer maps a zero "
                          "weight to a nonzero level (+E(|w|) at 1 bit; 0 is not among the 2^k levels of Eq. 9), "
                          "so the pruned weights would act again in the quantized network",
    }

    def check(self, model, task) -> str | None:
        missing = super().check(model, task)
        if missing:
            return missing
        config = self.config
        if not layers_to_quantize(model, quantize_first_last=config.quantize_first_last, skip=config.skip):
            found = quantizable_layers(model)
            kept = "the first and the last, which the paper keeps at full precision" \
                if not config.quantize_first_last else "none"
            return (f"a Linear or Conv layer to quantize (it has {len(found)} such layers: {found[:4]}; left out: "
                    f"{kept}" + (f", and those matching skip={config.skip}" if config.skip else "") + ")")
        return None

    def prepare(self, model) -> None:
        config = self.config
        apply_dorefa(model, config.weight_bits, config.activation_bits, config.gradient_bits,
                     quantize_first_last=config.quantize_first_last, skip=config.skip)
