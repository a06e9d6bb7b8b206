"""NINConfig: the typed config of `network-in-network`, with the paper's CIFAR-10 defaults
(arXiv:1312.4400, Sec. 4.1 and the authors' released CIFAR-10 model)."""

from __future__ import annotations

from pydantic import model_validator

from zoo.config import Config, Field


class NINConfig(Config):
    in_chans: int = Field(3, ge=1, le=256, description="input channels")
    num_classes: int = Field(10, ge=1, le=100_000, description="classes = feature maps of the last mlpconv layer")
    kernel_sizes: list[int] = Field(
        [5, 5, 3], description="spatial kernel of the first convolution of each mlpconv layer")
    channels: list[list[int]] = Field(
        [[192, 160, 96], [192, 192, 192], [192, 192]],
        description="per mlpconv layer: width of its k x k convolution, then of each 1x1 convolution; "
                    "the last layer ends with one more 1x1 convolution to num_classes maps",
    )
    pool_size: int = Field(3, ge=1, le=64, description="max-pooling window after every mlpconv but the last")
    pool_stride: int = Field(2, ge=1, le=64, description="max-pooling stride (2 halves the maps)")
    dropout: float = Field(0.5, ge=0.0, lt=1.0, description="dropout on the output of every mlpconv but the last")
    relu_on_class_maps: bool = Field(
        True, description="ReLU on the class maps too, as Eq. 2 and the release do; False leaves them linear, "
                          "which keeps a class from dying (all-zero map, no gradient) in small networks")
    init_std: float | None = Field(
        None, gt=0.0, le=1.0, description="None: He-normal weights; a number: every convolution's weights "
                                          "from N(0, init_std^2), the fixed-std Gaussians of the authors' Caffe "
                                          "release (0.05 on most of its layers); biases start at zero either way")

    @model_validator(mode="after")
    def _layers_agree(self) -> "NINConfig":
        if not self.kernel_sizes:
            raise ValueError("kernel_sizes needs at least one mlpconv layer, e.g. [5, 5, 3]")
        if len(self.channels) != len(self.kernel_sizes):
            raise ValueError(f"channels has {len(self.channels)} mlpconv layers but kernel_sizes has "
                             f"{len(self.kernel_sizes)}; give one list of widths per layer")
        if any(k < 1 or k % 2 == 0 for k in self.kernel_sizes):
            raise ValueError(f"kernel_sizes must be odd and >= 1 (padding keeps the map size), got {self.kernel_sizes}")
        if any(not widths or any(w < 1 for w in widths) for widths in self.channels):
            raise ValueError(f"every mlpconv layer needs at least one width >= 1, got {self.channels}")
        return self
