"""FFMLP: the network Forward-Forward trains (Hinton 2022): hidden nn.Linear + nn.ReLU pairs on the
flattened input and no output layer, since the prediction is read from the layers' goodness."""

from __future__ import annotations

from torch import nn

from zoo.config import Config, Field


class FFMLPConfig(Config):
    in_features: int = Field(784, ge=1, le=1000000, description="inputs (images are flattened); the label is "
                                                                "written into the first num_classes of them")
    hidden: list[int] = Field([2000, 2000, 2000, 2000], min_length=1, max_length=64, description=(
        "widths of the hidden ReLU layers (Hinton's MNIST network: 4 x 2000)"))


class FFMLP(nn.Sequential):
    """nn.Flatten, then one nn.Linear + nn.ReLU pair per hidden width; an nn.Sequential, so the
    Forward-Forward methods find its layers in order."""

    def __init__(self, config: FFMLPConfig):
        layers: list[nn.Module] = [nn.Flatten()]
        width = config.in_features
        for size in config.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        super().__init__(*layers)
        self.config = config
