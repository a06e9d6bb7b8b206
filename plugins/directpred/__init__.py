"""PaperZoo plugin for DirectPred: Tian, Chen & Ganguli, "Understanding self-supervised Learning Dynamics
without Contrastive Pairs" (ICML 2021, arXiv:2102.06810).

`zoo.method("directpred")` is an update rule for zoo.train: BYOL (online encoder + projector + linear
predictor, target network as the EMA of the online one, symmetrised normalised MSE) whose linear
predictor is not trained but set directly from the running correlation F of its input:
W_p = U diag(p) U^T, p_j = sqrt(s_j / max s) + eps (Eq. 18), F <- rho F + (1 - rho) E[f f^T] (Eq. 19).
The user's model is the encoder; projector, predictor and target live in the method and its state.
Options predictor="linear" (a gradient-trained linear predictor) and "none" give the paper's baselines.

Where the code departs from the paper:
- The views are augmentations written for 8x8 digits (shifts of one pixel, a 3x3 cutout, Gaussian noise),
  not the paper's ImageNet/STL-10 crops, flips and colour jitter.
- The target's EMA rate is fixed (tau = 0.996, the authors' code) rather than BYOL's cosine ramp to 1.
- Both views go through the online encoder in one batch, so BatchNorm statistics span both views.
- zoo.train applies a classification task's loss check to the encoder's output; train on
  `zoo_plugins.directpred.method.unlabeled(task)` so that labels are not read.
Importing this module is cheap; torch is imported when the method is first used.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, hookimpl


def unlabeled(task):
    """`task` without labels, for zoo.train with directpred (see method.unlabeled)."""
    from .method import unlabeled as _unlabeled

    return _unlabeled(task)


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import DirectPred

    return [MethodSpec(name="directpred", build=DirectPred)]
