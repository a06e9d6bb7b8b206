"""PaperZoo plugin for Exploring Transformer Backbones for Heterogeneous Treatment Effect Estimation
(Zhang, Zhang, Lipton, Li & Xing, 2022): the transformer treatment-effect estimator
`transtee`, and the generated observational tasks `transtee/binary` (two arms) and
`transtee/dosage` (a continuous dosage), with known potential outcomes.

Departures (details in model.py and DOC.md): covariate tokens carry one weight and bias vector per
covariate; the paper's targeted-regularisation variants (TR, PTR) are not implemented, the
propensity head is (its NLL added with weight 0.5); the data are our own simulations, not the
paper's IHDP/News/TCGA benchmarks. Importing this module is cheap; torch is imported when a model
or task is built.
"""

from __future__ import annotations

from functools import partial

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import TransTEE

    return TransTEE(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    x = torch.randn(batch_size, config.covariates)
    if config.treatment == "continuous":
        return x, torch.rand(batch_size)
    return x, torch.arange(batch_size) % config.num_treatments


def _from_task(values: dict, info) -> dict:
    if "treatment" not in info.extra:
        raise ValueError("transtee needs a treatment-effect task whose info.extra gives covariates, treatment and "
                         "num_treatments (e.g. transtee/binary)")
    return {"covariates": info.extra["covariates"], "treatment": info.extra["treatment"],
            "num_treatments": info.extra["num_treatments"]}


def _task(name: str, setting: str, covariates: int, **options):
    from .task import TreatmentEffectTask

    return TreatmentEffectTask(name, **{"setting": setting, "covariates": covariates, **options})


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import TransTEEConfig

    return [ModelSpec("transtee", TransTEEConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("transtee/binary", partial(_task, "transtee/binary", "binary", 10)),
            TaskSpec("transtee/dosage", partial(_task, "transtee/dosage", "dosage", 6))]
