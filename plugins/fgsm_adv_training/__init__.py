"""PaperZoo plugin for FGSM adversarial training: Goodfellow, Shlens & Szegedy, "Explaining and
Harnessing Adversarial Examples" (ICLR 2015, arXiv:1412.6572).

The method trains on the objective of Eq. 6,

    J~(theta, x, y) = alpha J(theta, x, y) + (1 - alpha) J(theta, x + eps sign(grad_x J(theta, x, y)), y),

as two named loss terms of zoo.train: the task's term weighted alpha and an "adversarial" term
weighted 1 - alpha (defaults alpha = 0.5, eps = 0.25, the paper's MNIST values). `method.py` holds
the functional core (`fgsm`, `perturb`, `input_gradient`, `fgsm_error`) and the Method class.

Where the code departs from the paper, and why:
- grad_x J comes from the same clean forward pass whose loss is the alpha-weighted term (the input is
  made a leaf that requires grad before the loop's forward), so with dropout both share one mask;
  only a task whose `inputs()` rebuilds its tensors gets a forward pass of its own for the gradient.
- The adversarial input is treated as a constant (detached): sign() has zero derivative almost
  everywhere, so this is the gradient of Eq. 6 itself, not an approximation.
- The paper does not clamp x + eps sign(g) to the data range; `input_range=(low, high)` clamps when
  asked (the default None does not), e.g. to compare with attacks that clamp to [0, 1].
- The first positional input of the task is the one perturbed (the paper's x); it must be
  floating point: token ids and other integer inputs have no gradient and are refused.

Importing this module is cheap; torch is imported when the method is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import FGSMAdversarialTraining

    return [MethodSpec(name="fgsm-adv-training", build=FGSMAdversarialTraining)]
