"""Network In Network (Lin, Chen and Yan, 2013, arXiv:1312.4400).

An mlpconv layer slides a small multilayer perceptron over the input instead of a linear filter
(paper Eq. 2): a k x k convolution followed by 1x1 convolutions, each with ReLU, so every output
pixel is an MLP of its receptive field ("cross channel parametric pooling"). Three mlpconv layers
are stacked, with max pooling (stride 2) and dropout between them; the last mlpconv produces one
feature map per class and global average pooling turns each map into that class's score (Sec.
3.2), so there is no fully-connected layer to overfit. As in Eq. 2 and the release, the class maps
go through ReLU like every other layer (`relu_on_class_maps`).

The defaults are the paper's CIFAR-10 network as the authors released it: mlpconv widths
192-160-96, 192-192-192 and 192-192-10 with kernels 5, 5 and 3.

Departures from the paper:
- Weights start from He-normal initialisation (zero biases), not the fixed-std Gaussians of the
  Caffe release (`init_std=0.05` gives those): on digits both the release's init and PyTorch's
  default leave the signal too small through the nine layers, and training stalls at chance.
- `relu_on_class_maps=False` is an option the paper does not have: with ReLU'd class maps a class
  whose map turns negative everywhere gets no gradient again; in the 8x8-digits network this
  happened within the first epochs and capped accuracy (with AdamW at lr 1e-3; with the paper's
  SGD at lr 0.1 the whole network dies on some seeds, see DOC.md).
- Max pooling uses ceil mode with no padding, as Caffe does, so an 8x8 input pools to 4x4 and 2x2.
- The `digits` variant (8x8 grey digits, widths 32/64/64, kernels 3) is this zoo's, sized for CPU.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import NINConfig

__all__ = ["NetworkInNetwork", "MlpConv"]


class MlpConv(nn.Sequential):
    """One mlpconv layer: a k x k convolution and 1x1 convolutions, each followed by ReLU (the last
    one optionally not)."""

    def __init__(self, in_channels: int, widths: list[int], kernel_size: int, last_relu: bool = True):
        layers: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], kernel_size, padding=kernel_size // 2),
                                   nn.ReLU(inplace=True)]
        for w_in, w_out in zip(widths, widths[1:]):
            layers += [nn.Conv2d(w_in, w_out, 1), nn.ReLU(inplace=True)]
        if not last_relu:
            layers.pop()
        super().__init__(*layers)


class NetworkInNetwork(nn.Module):
    """NIN classifier built from a `NINConfig`: (batch, C_in, H, W) -> (batch, classes) scores."""

    def __init__(self, config: NINConfig):
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        in_channels = config.in_chans
        last = len(config.channels) - 1
        for i, (widths, kernel) in enumerate(zip(config.channels, config.kernel_sizes)):
            widths = list(widths) + ([config.num_classes] if i == last else [])
            layers.append(MlpConv(in_channels, widths, kernel, last_relu=i < last or config.relu_on_class_maps))
            if i < last:
                layers += [nn.MaxPool2d(config.pool_size, config.pool_stride, ceil_mode=True),
                           nn.Dropout(config.dropout)]
            in_channels = widths[-1]
        self.features = nn.Sequential(*layers)
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                if config.init_std is None:
                    nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                else:
                    nn.init.normal_(module.weight, std=config.init_std)
                nn.init.zeros_(module.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        channels = self.config.in_chans
        if not isinstance(x, torch.Tensor) or not x.is_floating_point():
            kind = f"dtype {x.dtype}" if isinstance(x, torch.Tensor) else type(x).__name__
            raise TypeError(f"network-in-network expects a floating-point image batch of shape "
                            f"(batch, {channels}, H, W), got {kind}")
        if x.dim() != 4 or x.shape[1] != channels:
            raise ValueError(f"network-in-network expects images of shape (batch, {channels}, H, W), "
                             f"got {tuple(x.shape)}")
        # global average pooling: each class map's mean is that class's score
        return self.features(x).mean(dim=(2, 3))
