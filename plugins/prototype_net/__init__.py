"""PaperZoo plugin for "Deep Learning for Case-Based Reasoning through Prototypes: A Neural Network that
Explains Its Predictions" (Li, Liu, Chen & Rudin, 2018, arXiv:1710.04806): the model `prototype-net`, a
convolutional autoencoder whose latent space holds m learned prototypes; the class logits are a linear
function of the squared distances to them, and the decoder turns each prototype into an image.

Departures from the paper: the defaults are the paper's MNIST network (four 3x3 sigmoid conv layers of
stride 2 to a 2x2x10 code, 15 prototypes, lambda = lambda1 = lambda2 = 0.05); for the 8x8 digits,
`from_task` keeps stride 2 in the first two layers and makes the last two stride 1, so the code keeps
the paper's 2x2x10 size (8 pixels halve only twice). The classifier's fully connected layer has no bias, as the
paper's architecture lists none.
Importing this module is cheap; torch is imported when a model is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, hookimpl


def _build(config):
    from .model import PrototypeNet

    return PrototypeNet(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    return (torch.rand(batch_size, *config.input_shape),)


def strides_for(size: int, layers: int) -> list[int]:
    """Stride 2 in the first layers, as many as halve `size` down to 2 (28 -> 14 -> 7 -> 4 -> 2: the paper's
    four; 8 -> 4 -> 2: two), stride 1 after them, so the code is the paper's 2x2 grid."""
    halvings, side = 0, size
    while side > 2 and halvings < layers:
        side, halvings = (side + 1) // 2, halvings + 1
    return [2] * halvings + [1] * (layers - halvings)


def _from_task(values: dict, info) -> dict:
    shape = list(info.input_shape)
    if len(shape) != 3 or info.kind != "classification":
        raise ValueError(f"prototype-net classifies images of shape (channels, height, width); this task gives "
                         f"{info.kind} inputs of shape {tuple(shape)}")
    layers = len(values.get("strides", [2, 2, 2, 2]))
    return {"input_shape": shape, "num_classes": info.output_dim, "strides": strides_for(min(shape[1:]), layers)}


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import PrototypeNetConfig

    return [ModelSpec("prototype-net", PrototypeNetConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]
