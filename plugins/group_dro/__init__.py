"""PaperZoo plugin for "Distributionally Robust Neural Networks for Group Shifts: On the Importance of
Regularization for Worst-Case Generalization" (Sagawa, Koh, Hashimoto & Liang, ICLR 2020,
arXiv:1911.08731): the training method `group-dro` and its group-shift problem
`groups/spurious-digits`.

The method (method.py) is the paper's online group DRO (Algorithm 1): group weights q updated by
exponentiated-gradient ascent on the per-group losses, q_g <- q_g exp(eta_q L_g), normalised, and the
model trained on sum_g q_g L_g, with the optional generalization adjustment C / sqrt(n_g) (Eq. 5).
Strong L2 and early stopping, which the paper couples it with, are zoo.train's `weight_decay` and
`patience`. Where the code departs from the paper, and why:

- Algorithm 1 samples one group per step; like the authors' code, each mini-batch updates the q of
  every group it holds, from that group's mean loss. A group the batch lacks keeps its q (the
  authors' code adds the adjustment to its zero loss instead, which raises the q of absent groups).
- The paper's datasets (Waterbirds, CelebA, MultiNLI) are downloads with pretrained ResNet50 / BERT;
  the reproduction uses a planted spurious bar on 8x8 digits (task.py) and a wide MLP trained from
  scratch, which fit a CPU budget.

Importing this module is cheap: torch and the data are loaded when the method or task is built.
"""

from __future__ import annotations

from zoo.hookspecs import MethodSpec, TaskSpec, hookimpl


def _spurious_digits(**options):
    from .task import spurious_digits_task

    return spurious_digits_task(**options)


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import GroupDRO

    return [MethodSpec(name="group-dro", build=GroupDRO)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("groups/spurious-digits", _spurious_digits)]
