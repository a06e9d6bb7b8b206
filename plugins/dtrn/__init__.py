"""PaperZoo plugin for DTRN: Deep Task-specific Bottom Representation Network for Multi-Task Recommendation
(Liu, Zhou, Jiang, Ge & Lian, CIKM 2023, arXiv:2308.05996).

Provides the model `dtrn` (a task-specific interest module whose target-attention extractors come from a
hypernetwork of task and behaviour-type embeddings, a SENet-like refinement network per task, and task towers)
with the ablation variants `no-tim` (one interest extractor shared by the tasks) and `no-trm` (no refinement),
and the generated task `dtrn/conflict` (click and conversion labels that partly conflict, with two behaviour
sequences per user). The baselines of its reproduction, MMoE and PLE, live in baselines.py (not catalog models).

Departures from the paper: generated data instead of its public and industrial logs; the interest extractor is
one target-attention layer whose query, key and value projections the hypernetwork generates in full (the
paper's extractor and its parameter-efficient parameterisation are richer); the refinement is field-level
SENet (sigmoid excitation); sizes are a small setting. Importing this module is cheap; torch is imported when
a model or task is built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import DTRN

    return DTRN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    limits = torch.tensor(config.field_cardinalities)
    ids = (torch.rand(batch_size, len(limits)) * limits).long()
    histories = torch.randint(0, config.field_cardinalities[config.item_field], (batch_size, config.history_types, 5))
    return ids, histories


def _from_task(values: dict, info) -> dict:
    extra = info.extra
    return {"field_cardinalities": list(extra["field_cardinalities"]), "item_field": extra["item_field"],
            "history_types": extra["history_types"], "tasks": len(extra["tasks"])}


def _conflict_task(**options):
    from .task import ConflictTask

    return ConflictTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import DTRNConfig

    return [ModelSpec("dtrn", DTRNConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("dtrn/conflict", _conflict_task)]
