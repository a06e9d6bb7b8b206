"""PaperZoo plugin for "Multi-Task Learning Using Uncertainty to Weigh Losses for Scene Geometry and
Semantics" (Kendall, Gal & Cipolla, CVPR 2018, arXiv:1705.07115): the training method
`uncertainty-loss-weighting` and its multi-task problem `multitask/rotated-digits`.

The method (method.py) is the paper's loss of Eq. 7 / Eq. 10 with one learned s_i = log sigma_i^2
per named loss term, as a `zoo.train` loss combiner. Where the code departs from the paper, and why:

- The paper weighs per-pixel depth, semantic and instance losses of a DeepLabV3-style network on
  Cityscapes; here any task with named loss terms is weighed, and the reproduction uses a small
  two-head MLP on rotated 8x8 digits (digit class and rotation angle in degrees), which fits a
  CPU budget (task.py, repro.py).
- The paper does not say how s is initialized; s_i = 0 (sigma_i = 1) is the default
  (`init_log_variance`).
- A term that the option `terms` (or the task's `loss_term_kinds`) does not name, such as another
  method's penalty, is added to the loss unweighted: the paper weighs task likelihoods only.

Importing this module is cheap: torch and the data are loaded when the method or task is built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, TaskSpec, hookimpl


def _rotated_digits(**options):
    from .task import rotated_digits_task

    return rotated_digits_task(**options)


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import UncertaintyLossWeighting

    return [MethodSpec(name="uncertainty-loss-weighting", build=UncertaintyLossWeighting)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("multitask/rotated-digits", _rotated_digits)]
