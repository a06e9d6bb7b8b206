"""PaperZoo plugin for Conditional Generative Adversarial Nets (Mirza & Osindero, 2014,
arXiv:1411.1784). Trains on labelled tasks: `mixture2d/ring8`, `mixture2d/grid25` (from the `gan`
plugin) and `digits`. Importing this module is cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import CGAN

    return CGAN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return torch.rand(batch_size, config.latent_dim), torch.arange(batch_size) % config.num_classes


def _from_task(values: dict, info) -> dict:
    """Condition on the task's classes; generate samples shaped like its inputs."""
    if not info.num_classes:
        raise ValueError(f"cgan needs a labelled task (num_classes set); this task ({info.kind}) has none")
    real_valued = info.extra.get("support") == "real"
    return {"data_shape": list(info.input_shape), "num_classes": info.num_classes,
            "output_activation": "identity" if real_valued else "sigmoid"}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import CGANConfig

    return [ModelSpec("cgan", CGANConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
