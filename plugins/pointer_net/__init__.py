"""PaperZoo plugin for Pointer Networks (Vinyals, Fortunato and Jaitly, 2015, arXiv:1506.03134).

Provides the model `pointer-net` (Ptr-Net and the paper's seq2seq+attention baseline as a variant)
and the generated tasks `pointer-net/convex-hull` and `pointer-net/sort`. Importing this module is cheap; torch is
imported when a model or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import PointerNet

    return PointerNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, 6, config.input_dim),)


def _from_task(values: dict, info) -> dict:
    sizing = {"input_dim": info.input_shape[-1]}
    if values.get("decoder") == "attention":
        sizing["max_positions"] = info.output_dim - 1  # a fixed dictionary as large as the training inputs
    return sizing


def _convex_hull(**options):
    from .task import ConvexHullTask

    return ConvexHullTask(**options)


def _sort(**options):
    from .task import SortTask

    return SortTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import PointerNetConfig

    return [ModelSpec("pointer-net", PointerNetConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("pointer-net/convex-hull", _convex_hull), TaskSpec("pointer-net/sort", _sort)]
