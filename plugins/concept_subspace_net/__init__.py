"""PaperZoo plugin for Prototype Based Classification from Hierarchy to Fairness (Tucker & Shah,
ICML 2022): the concept subspace network `concept-subspace-net`, and its tasks
`concept-subspace-net/fair` (label and protected attribute, from the shared `protected_data`
generator) and `concept-subspace-net/hierarchy` (a generated two-level label hierarchy).

Departures (details in model.py and DOC.md): the alignment between two concept subspaces is the
mean squared cosine of their principal angles (our reading of the paper's measure); the loss
weights are our choice; encoder and decoder are two-layer MLPs for tabular inputs; the data are
generated rather than the paper's Adult, German, CUB and iNaturalist sets. Importing this module is
cheap; torch is imported when a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import ConceptSubspaceNet

    return ConceptSubspaceNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, config.input_dim),)


def _from_task(values: dict, info) -> dict:
    if "concepts" not in info.extra:
        raise ValueError("concept-subspace-net needs a task whose info.extra gives its concepts' class counts "
                         "(e.g. concept-subspace-net/fair)")
    return {"input_dim": info.input_dim, "concepts": list(info.extra["concepts"])}


def _fair(**options):
    from .task import fair_task

    return fair_task(**options)


def _hierarchy(**options):
    from .task import hierarchy_task

    return hierarchy_task(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import ConceptSubspaceNetConfig

    return [ModelSpec("concept-subspace-net", ConceptSubspaceNetConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("concept-subspace-net/fair", _fair), TaskSpec("concept-subspace-net/hierarchy", _hierarchy)]
