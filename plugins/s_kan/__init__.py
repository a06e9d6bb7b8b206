"""PaperZoo plugin for Activation Space Selectable Kolmogorov-Arnold Networks (Yang et al., 2024,
arXiv:2408.08338).

Importing this module is cheap; torch is imported when the model is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import SKAN

    return SKAN(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, config.width[0]) * 2 - 1,)


def _from_task(config: dict, info) -> dict:
    """Input and output widths from the task; hidden widths stay as configured."""
    if len(info.input_shape) != 1:
        raise ValueError(f"s-kan fits functions of flat inputs (batch, features); this task's inputs have "
                         f"shape {tuple(info.input_shape)} per sample")
    from .config import SKANConfig

    hidden = config.get("width", SKANConfig.model_fields["width"].default)[1:-1]
    return {"width": [info.input_dim, *hidden, info.output_dim]}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import SKANConfig

    return [ModelSpec("s-kan", SKANConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
