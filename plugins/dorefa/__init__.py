"""PaperZoo plugin for DoReFa-Net: Training Low Bitwidth Convolutional Neural Networks with Low
Bitwidth Gradients (Zhou, Wu, Ni, Zhou, Wen & Zou, 2016, arXiv:1606.06160): the training method
`dorefa`, which quantizes a model's weights (Eq. 7-9), the activations entering its layers
(Eq. 10) and the gradients at their outputs (Eq. 12) to k bits, with straight-through estimators.

Where the code departs from the paper, and why:
- Activations are quantized where a quantized layer reads them (its input) instead of right after
  each nonlinearity: the result is the same in the paper's networks (the nonlinearity's output feeds
  the next layer, pooling commutes with the monotone clip and rounding), and it works on models
  whose activations are functional calls, which have no module to wrap. On a model whose layers
  read something else than a nonlinearity's output (a LayerNorm, a residual sum), the clip to
  [0, 1] becomes the bounded activation the paper assumes, and changes the function.
- Which layers are "first" and "last" is decided by registration order (model.named_modules()),
  which is deterministic and needs no example input; `skip=` keeps further layers at full precision.
- Biases stay at full precision (the paper's networks put batch normalization after the
  convolutions instead of biases); sign(0) is +1 so 1-bit weights take exactly two values.
- Eq. 12's rounding input is clipped to [0, 1], which only matters when the noise pushes an
  instance's extreme value past the grid: the gradient keeps exactly 2^k levels.
Neither brevitas nor torchao implements DoReFa's quantizers as the paper writes them (the tanh
weight transform of Eq. 9, the layer-mean scale of Eq. 7, Eq. 12's gradient quantizer), so the
quantizers are written here from the equations.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import DoReFa

    return [MethodSpec(name="dorefa", build=DoReFa)]
