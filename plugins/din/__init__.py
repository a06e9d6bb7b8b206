"""PaperZoo plugin for Deep Interest Network for Click-Through Rate Prediction (Zhou et al., KDD 2018,
arXiv:1706.06978).

Provides the model `din` (the local activation unit over the user's behaviours, Dice, mini-batch aware
regularisation) with the Embedding&MLP base model (sum pooling) as the variant `base`, and the generated
task `din/behaviour-ctr`.

Departures from the paper: the data are generated (the paper uses Amazon, MovieLens and Alibaba logs);
items carry goods, shop and category ids but no user-profile or context features; the activation unit's
"out product" is the element-wise product (with the difference), as in the authors' code, not an outer
product; mini-batch aware regularisation is off by default (mba_lambda 0), as in the paper's public-data
runs, and counts each id's training occurrences at the first step when on; weights start Glorot-uniform
(TensorFlow's default, as in the authors' code). The reproduction trains with Adam, because the paper's SGD
at learning rate 1 trained neither model on the generated data (see repro.py). Importing this module is cheap;
torch is imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import DIN

    return DIN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    length = min(5, config.history_length)
    limits = torch.tensor([config.num_goods, config.num_shops, config.num_categories])
    history = (torch.rand(batch_size, length, 3) * limits).long() + 1
    history[:, -1] = 0  # a shorter history is padded with id 0
    candidate = (torch.rand(batch_size, 3) * limits).long() + 1
    return history, candidate


def _from_task(values: dict, info) -> dict:
    keys = ("num_goods", "num_shops", "num_categories", "history_length")
    return {k: info.extra[k] for k in keys}


def _behaviour_ctr(**options):
    from .task import BehaviourTask

    return BehaviourTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import DINConfig

    return [ModelSpec("din", DINConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("din/behaviour-ctr", _behaviour_ctr)]
