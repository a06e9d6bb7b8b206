"""PaperZoo plugin for Ranger21: Wright & Demeure, "Ranger21: a synergistic deep learning optimizer"
(arXiv:2106.13731).

Ranger21 is AdamW combined with adaptive gradient clipping, gradient centralisation,
positive-negative momentum, norm loss, stable weight decay, linear warm-up, an explore-exploit
(warm-down) schedule and lookahead. The optimizer itself is pytorch_optimizer.Ranger21; this plugin
makes it a zoo training method that provides the run's optimizer (`zoo.train(m, t,
optimizer="ranger21")`), sized to the run's number of optimizer steps, which its schedule needs.

Where the code departs from the paper, and why (the library's choices, checked in its code):
- Two extras of the authors' code that the paper does not count among its components are on by
  default, as in the library: gradient normalisation (divide by the gradient's std) and a softplus
  on the Adam denominator; both are options (`normalize_gradients`, `use_softplus`).
- The Adam denominator uses the running maximum of the second moment (AMSGrad style), and the
  positive-negative momentum uses beta0 = 0.9 for its noise term, as the library does.
- zoo.train's `weight_decay`, when non-zero, replaces the `weight_decay` option; zoo.train's own
  lr schedule must stay constant while Ranger21's schedule is on (refused otherwise).
- The run's step count is computed in `setup` from the training split, batch size, accumulation,
  epochs and max_steps, since build_optimizer(params, config) is not told it.

Importing this module is cheap; torch is imported when the method is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import Ranger21Method

    return [MethodSpec(name="ranger21", build=Ranger21Method)]
