"""PaperZoo plugin for EWC, elastic weight consolidation: Kirkpatrick et al., "Overcoming catastrophic
forgetting in neural networks", PNAS 2017, arXiv:1612.00796; and the task `digits/permuted`.

The method `ewc` adds the penalty (lambda/2) sum_i F_i (theta_i - theta*_i)^2 (Eq. 3) toward every
earlier task, with the diagonal Fisher F computed at the end of each task (`EWC.consolidate`), and
runs a whole sequence of tasks as a resumable procedure (`EWC.run`). `penalty="l2"` (F_i = 1) is the
paper's L2 baseline.

Where the code departs from the paper, and why:
- The Fisher is the exact mean of squared per-sample gradients of log p(y|x), y drawn once per
  sample from the model (the paper's true Fisher "with samples from the model's predictive
  distribution"); `fisher="empirical"` uses the data's labels instead (what most libraries do).
- Several earlier tasks keep one penalty each (the paper notes that their sum is itself one
  quadratic penalty; keeping them apart keeps each task's Eq. 3 term visible).
- The paper gives no lambda for MNIST; the default is the one the reproduction's selection protocol
  (validation split, held-out permutations) picked. The reproduction's data is 8x8 digits, not MNIST.

Importing this module is cheap; torch is imported when the method or task is first built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, TaskSpec, hookimpl


def _permuted_digits(**options):
    from .data import permuted_digits

    return permuted_digits(**options)


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import EWC

    return [MethodSpec(name="ewc", build=EWC)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("digits/permuted", _permuted_digits)]
