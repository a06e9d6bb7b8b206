"""PaperZoo plugin for NovoGrad: Ginsburg, Castonguay, Hrinchuk, Kuchaiev, Lavrukhin, Leary, Li,
Nguyen, Zhang & Cohen, "Stochastic Gradient Methods with Layer-wise Adaptive Moments for Training of
Deep Networks" (arXiv:1905.11286; v3 "Training Deep Networks with Stochastic Gradient Normalized by
Layerwise Adaptive Second Moments").

NovoGrad keeps one scalar second moment per layer, v = EMA of ||g||^2, normalises the layer's
gradient by sqrt(v) before the first moment, and adds decoupled weight decay d w inside the first
moment (Sec. 3, Eqs. 2-7). `method.py` holds `novograd_update` (the equations on one tensor), the
`NovoGrad` torch optimizer and the Method that provides it: `zoo.train(m, t, optimizer="novograd")`.

Where the code departs from the paper, and why:
- A "layer" is one parameter tensor (a weight and its bias have separate moments), as in the
  authors' OpenSeq2Seq/NeMo implementations.
- pytorch_optimizer.NovoGrad is not used: it adds eps outside the square root (sqrt(v) + eps) where
  Eq. 5 has sqrt(v + eps); with eps = 0 the two agree step by step (tested).
- eps also enters the first step, m_1 = g_1 / sqrt(v_1 + eps) + d w_1 (Eq. 6 has sqrt(v_1)): a layer
  whose first gradient is exactly zero (behind a zero-initialised head) would otherwise get 0 / 0.
- zoo.train's `weight_decay`, when non-zero, replaces the method's `weight_decay` option (the only
  way to set it when the optimizer is picked by name).

Importing this module is cheap; torch is imported when the method is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import NovoGradMethod

    return [MethodSpec(name="novograd", build=NovoGradMethod)]
