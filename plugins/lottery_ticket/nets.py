"""The paper's networks sized for 8x8 digits: LeNet-300-100 and Conv-2, with Gaussian Glorot init.

Frankle & Carbin, Fig. 2: LeNet is fc 300, 100, 10; Conv-2 is two 3x3 conv layers of 64 filters,
a 2x2 max-pool, then fc 256, 256, 10; every weight is drawn from Gaussian Glorot (Xavier normal)
and biases start at zero. The first layer of LeNet takes the 64 pixels of an 8x8 digit instead of
MNIST's 784; Conv-2's 'same' convolutions and one pool leave 4x4 maps instead of 16x16.
"""

from __future__ import annotations

from torch import nn

__all__ = ["GlorotLinear", "GlorotConv2d", "lenet_300_100", "conv2"]


class GlorotLinear(nn.Linear):
    """nn.Linear initialised as in the paper: Xavier-normal weights, zero bias. Its reset_parameters
    is that draw, so `reinitialize` (the random-reinit control) samples the same distribution."""

    def reset_parameters(self) -> None:
        nn.init.xavier_normal_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


class GlorotConv2d(nn.Conv2d):
    """nn.Conv2d with the paper's Xavier-normal weights and zero bias."""

    def reset_parameters(self) -> None:
        nn.init.xavier_normal_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)


def lenet_300_100(in_features: int = 64, classes: int = 10, hidden: tuple[int, int] = (300, 100)) -> nn.Sequential:
    """LeNet-300-100 (ReLU); on 8x8 digits its layers are 64-300-100-10."""
    first, second = hidden
    return nn.Sequential(nn.Flatten(), GlorotLinear(in_features, first), nn.ReLU(), GlorotLinear(first, second),
                         nn.ReLU(), GlorotLinear(second, classes))


def conv2(width: int = 64, image: int = 8, channels: int = 1, classes: int = 10, fc: int = 256) -> nn.Sequential:
    """Conv-2: conv3x3(width) x2 ('same' padding, ReLU), 2x2 max-pool, fc 256-256-classes."""
    pooled = width * (image // 2) ** 2
    return nn.Sequential(
        GlorotConv2d(channels, width, 3, padding=1), nn.ReLU(), GlorotConv2d(width, width, 3, padding=1), nn.ReLU(),
        nn.MaxPool2d(2), nn.Flatten(), GlorotLinear(pooled, fc), nn.ReLU(), GlorotLinear(fc, fc), nn.ReLU(),
        GlorotLinear(fc, classes))
