"""PaperZoo plugin for MatrixKAN: Parallelized Kolmogorov-Arnold Network (Coffman & Chen, 2025,
arXiv:2502.07176).

Importing this module is cheap; torch is imported when the model is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import MatrixKAN

    return MatrixKAN(config)


def _count_params(config) -> int:
    """A KAN's elements plus, per layer, Psi^k (k+1, k+1) and, with per-interval matrices, one
    (k+1, k+1) matrix per input and extended-grid interval (G + 2k of them)."""
    from zoo_plugins.kan import count_params

    k, intervals = config.k, config.grid + 2 * config.k
    per_interval = config.basis_matrix == "per-interval"
    return count_params(config) + sum((k + 1) ** 2 * (1 + (n_in * intervals if per_interval else 0))
                                      for n_in in config.width[:-1])


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.width[0]) * 2 - 1,)


def _from_task(config: dict, info) -> dict:
    """Input and output widths from the task; hidden widths stay as configured."""
    if len(info.input_shape) != 1:
        raise ValueError(f"matrixkan fits functions of flat inputs (batch, features); this task's inputs have "
                         f"shape {tuple(info.input_shape)} per sample")
    from .config import MatrixKANConfig

    hidden = config.get("width", MatrixKANConfig.model_fields["width"].default)[1:-1]
    return {"width": [info.input_dim, *hidden, info.output_dim]}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import MatrixKANConfig

    return [ModelSpec("matrixkan", MatrixKANConfig, _build, example_inputs=_example_inputs, from_task=_from_task,
                      count_params=_count_params)]
