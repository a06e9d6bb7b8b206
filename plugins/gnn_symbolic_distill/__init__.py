"""PaperZoo plugin for Cranmer, Sanchez-Gonzalez, Battaglia, Xu, Cranmer, Spergel & Ho, "Discovering
Symbolic Models from Deep Learning with Inductive Biases" (NeurIPS 2020, arXiv:2006.11287): the
method `gnn-symbolic-distill`, the graph network `nbody-gn` and the n-body tasks `nbody/spring`,
`nbody/r1`, `nbody/r2`, `nbody/charge`.

A graph network predicts the bodies' accelerations from their states; an L1 penalty on its edge
messages makes them sparse, so the few components that carry information become linear in the true
pairwise force; symbolic regression on them recovers the force law.

Where the code departs from the paper, and why:
- Symbolic regression uses gplearn (genetic programming over +, -, *, /), not Eureqa, and is run on
  the force the top messages encode along the separation (F^ . r_hat, with F^ from the linear fit of
  the messages to the true forces) over (r, q_i, q_j, m_i, m_j): a one-output problem a small search
  solves, where the paper fits each raw message component over (dx, dy, r, q, m).
- The loss is the mean absolute error of the accelerations plus w times the mean over edges of
  sum_k |m_k|; the authors' code sums the errors and weighs 1e-2 * batch * sum|m| / n, a strength
  that grows with the batch; w = 0.24 is theirs at their batch of 64 graphs of 4 bodies in 2D.
- The data are smaller (a few hundred simulations, taken every few steps) and simulated with a
  leapfrog integrator; the singular laws use r + 0.01 for r.
Importing this module is cheap; torch is imported when the method, model or a task is first built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec
from zoo.hookspecs import MethodSpec, hookimpl

SYSTEMS = ("spring", "r1", "r2", "charge")


def _build(config):
    from .model import NBodyGN

    return NBodyGN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, 4, config.node_features),)


def _from_task(values: dict, info) -> dict:
    return {"node_features": info.extra.get("node_features", 6), "dimensions": info.extra.get("dimensions", 2)}


def _task(system: str, **options):
    from .data import nbody_task

    return nbody_task(system, **options)


@hookimpl
def zoo_methods() -> list[MethodSpec]:
    from .method import GNNSymbolicDistill

    return [MethodSpec(name="gnn-symbolic-distill", build=GNNSymbolicDistill)]


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .model import NBodyGNConfig

    return [ModelSpec("nbody-gn", NBodyGNConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec(f"nbody/{system}", partial(_task, system)) for system in SYSTEMS]
