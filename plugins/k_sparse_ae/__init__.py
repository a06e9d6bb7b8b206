"""PaperZoo plugin for k-Sparse Autoencoders (Makhzani & Frey, 2013, arXiv:1312.5663): the model
`k-sparse-ae`, a tied-weight linear autoencoder whose hidden code keeps only its k largest activations
(Algorithm 1), trained with the paper's k schedule and encoded with its alpha*k rule.

Departures from the paper: none in the model. The paper's sizes are the defaults (784 inputs, 1000
hidden units, k = 25, alpha = 3, k from 100 down to 25 over the first half of training); `from_task`
only sets the input shape (64 pixels for scikit-learn's 8x8 digits, where the paper used 784-pixel
MNIST). The optimiser is the zoo's (the reproduction uses SGD with momentum, see repro.py), and the
initial weights are Gaussian with std `init_std`.
Importing this module is cheap; torch is imported when a model is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import KSparseAutoencoder

    return KSparseAutoencoder(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, *config.input_shape),)


def _from_task(values: dict, info) -> dict:
    return {"input_shape": list(info.input_shape)}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import KSparseAEConfig

    return [ModelSpec("k-sparse-ae", KSparseAEConfig, _build, example_inputs=_example_inputs, from_task=_from_task)]
