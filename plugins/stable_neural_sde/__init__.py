"""PaperZoo plugin for "Stable Neural Stochastic Differential Equations in Analyzing Irregular Time
Series Data" (Oh, Lim & Kim, ICLR 2024). Provides the model `stable-neural-sde`: a latent neural SDE
classifier of irregularly sampled series with missing values, in the paper's three stable classes
(Langevin-type, linear-noise, geometric; `sde_type`) and the naive neural SDE they are compared with,
solved by torchsde on a time axis [0, horizon]. Its reproduction uses the shared task
`dynamics/irregular` (on its own time axis [0, 10]) and an interpolation + gradient-boosting reference
arm that shows what the data allow.

Departures (details in model.py and DOC.md): the controlled path is a linear interpolation of the
observations (the paper: natural cubic splines); small tanh networks for drift and diffusion; one
sample path per forward pass. Importing this module is cheap; torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import StableNeuralSDE

    return StableNeuralSDE(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    length, values = 6, (config.input_channels - 1) // 2
    times = torch.sort(torch.rand(batch_size, length), 1).values
    times[:, 0] = 0.0
    observed = (torch.rand(batch_size, length, values) > 0.3).float()
    observed[:, 0] = 1.0
    data = torch.randn(batch_size, length, values) * observed
    return (torch.cat([times.unsqueeze(-1), data, observed], -1),)


def _from_task(values: dict, info) -> dict:
    if info.kind != "classification" or len(info.input_shape) != 2:
        raise ValueError(f"stable-neural-sde classifies series (L, channels); got a {info.kind} task with inputs "
                         f"{info.input_shape}")
    return {"input_channels": info.input_shape[-1], "num_classes": info.num_classes}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import StableNeuralSDEConfig

    return [ModelSpec("stable-neural-sde", StableNeuralSDEConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]
