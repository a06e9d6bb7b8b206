"""PaperZoo plugin for TabPFN: A Transformer That Solves Small Tabular Classification Problems in a
Second (Hollmann, Müller, Eggensperger & Hutter, 2022, arXiv:2207.01848): the model `tabpfn`,
built on the `pfn` plugin's transformer, and the task `tabpfn/scm-prior` (datasets from the
structural-causal-model prior it is pretrained on).

Departures (details in model.py, prior.py and DOC.md): the prior is the SCM prior alone (no BNN
prior mixed in, no categorical features, input warping or missing values) with narrowed ranges;
outliers are clipped at 10 training standard deviations rather than removed by the authors' rule;
ensembles permute classes and rotate features but apply no power transform; the shipped checkpoint
is a tiny model (width 64, 3 layers, 10 features, 4 classes) pretrained for minutes on CPU where
the paper trains a 12-layer, 512-wide one for a day on GPUs. Importing this module is cheap; torch
is imported when a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import TabPFN

    return TabPFN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    features = min(config.max_features, 3)
    return (torch.randn(batch_size, 8, features), torch.randint(0, 2, (batch_size, 8)),
            torch.randn(batch_size, 4, features))


def _from_task(values: dict, info) -> dict:
    """Size the feature and class limits from the prior task."""
    if "max_features" not in info.extra or "max_classes" not in info.extra:
        raise ValueError("tabpfn needs a prior task whose info.extra gives max_features and max_classes "
                         "(e.g. tabpfn/scm-prior)")
    return {"max_features": info.extra["max_features"], "max_classes": info.extra["max_classes"]}


def _scm_prior(**options):
    from .task import SCMPriorTask

    return SCMPriorTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import TabPFNConfig

    return [ModelSpec("tabpfn", TabPFNConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("tabpfn/scm-prior", _scm_prior)]
