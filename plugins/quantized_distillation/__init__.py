"""PaperZoo plugin for "Model compression via distillation and quantization" (Polino, Pascanu &
Alistarh, ICLR 2018, arXiv:1802.05668): the training method `quantized-distillation`.

A student network computes with uniformly quantized weights (Sec. 2.1: per bucket of 256 values,
scaled to [0, 1] by min and max, rounded to 2^b points, scaled back), keeps full-precision copies
that the straight-through estimator updates (Algorithm 1), and learns from a full-precision
teacher's distillation loss (Sec. 2.2: a weighted average of the cross entropy with the teacher's
soft targets at temperature T and the cross entropy with the labels). Where the code departs from
the paper, and why:

- The paper's second method, differentiable quantization (learning the quantization points), is
  not implemented: the task is quantized distillation.
- Rounding is deterministic (to the nearest point), as in the paper's quantized distillation runs;
  the stochastic variant of Sec. 2.1 (used in its analysis) is not offered.
- T and the soft/hard weighting are not given in the paper's text; the defaults T = 2, soft weight
  0.7 (with the soft term scaled by T^2, as Hinton et al.'s distillation) are stated as options.
- Every Linear / Conv weight is quantized (biases stay full precision); `skip` keeps named layers
  at full precision.

Importing this module is cheap: torch is imported when the method is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import QuantizedDistillation

    return [MethodSpec(name="quantized-distillation", build=QuantizedDistillation)]
