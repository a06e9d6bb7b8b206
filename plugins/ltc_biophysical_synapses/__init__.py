"""PaperZoo plugin for "On the Benefits of Biophysical Synapses" (Farsang, Lechner, Lung, Hasani, Rus
& Grosu, 2023): liquid time-constant (LTC) neurons connected by biophysical, conductance-based
synapses, solved by LTC's fused semi-implicit Euler solver. Provides the model
`ltc-biophysical-synapses` (sequence -> forecast of the next step); its reproduction uses the shared
task `dynamics/coupled`.

Departures (details in model.py and DOC.md): positivity of conductances and capacitances by a
softplus (the ncps library's implicit-constraints option) instead of clipping; fully connected
wiring; reversal potentials initialised at +-1 with equal chance. Importing this module is cheap;
torch is imported when a model is built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import LTCBiophysical

    return LTCBiophysical(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.randn(batch_size, 5, config.input_dim),)


def _from_task(values: dict, info) -> dict:
    if len(info.input_shape) != 2:
        raise ValueError(f"ltc-biophysical-synapses reads sequences (T, features); got inputs {info.input_shape}")
    return {"input_dim": info.input_shape[-1], "output_dim": info.output_dim}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import LTCBiophysicalConfig

    return [ModelSpec("ltc-biophysical-synapses", LTCBiophysicalConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]
