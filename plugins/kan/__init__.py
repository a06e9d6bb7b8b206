"""PaperZoo plugin for KAN: Kolmogorov-Arnold Networks (Liu et al., 2024, arXiv:2404.19756).

Importing this module is cheap; torch is imported when the model is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import KAN

    return KAN(config)


def count_params(config) -> int:
    """Parameter and buffer elements of KAN(config), from the config alone (the zoo's size check
    reads this instead of building the model on the meta device, which costs more than a KAN).
    Per layer: the knots (in, G+2k+1); coef (in, out, G+k); scale_base, scale_sp and mask (in, out)."""
    g, k = config.grid, config.k
    return sum(n_in * (g + 2 * k + 1) + n_in * n_out * (g + k + 3)
               for n_in, n_out in zip(config.width[:-1], config.width[1:]))


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.width[0]) * 2 - 1,)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import KANConfig

    return [ModelSpec("kan", KANConfig, _build, example_inputs=_example_inputs, from_task=lambda values, info: {"width": [info.input_dim, *values.get("width", KANConfig().width)[1:-1], info.output_dim]},
                      count_params=count_params)]
