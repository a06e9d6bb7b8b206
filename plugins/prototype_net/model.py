"""The prototype network of Li, Liu, Chen & Rudin (2018, arXiv:1710.04806): an autoencoder (encoder f,
decoder g) and a prototype classifier h = s o w o p on the latent space (Sec. "Network architecture").

    f: x -> z = f(x)                      four 3x3 conv layers, sigmoid, flattened to a vector of dim q
    g: z -> x_hat = g(z)                  the mirrored transposed convolutions, sigmoid
    p: z -> [||z - p_1||^2, ..., ||z - p_m||^2]      the prototype layer (squared L2 distances)
    w: distances -> logits                 a fully connected layer (m -> K), then softmax s

The paper's objective (its cost function):

    L = E(h o f) + lambda R(g o f) + lambda1 R1(p_1..p_m) + lambda2 R2(p_1..p_m)

    E  = cross entropy of the softmax of the logits,
    R  = (1/n) sum_i ||g(f(x_i)) - x_i||^2                       (reconstruction)
    R1 = (1/m) sum_j min_i ||p_j - f(x_i)||^2                    (every prototype near an encoded input)
    R2 = (1/n) sum_i min_j ||f(x_i) - p_j||^2                    (every encoded input near a prototype)

with the minima over the inputs of the batch, as in the paper's mini-batch training. `prototypes()`
decodes the prototypes, g(p_j), to images; `prototype_classes()` gives each prototype's class: the
class its weight to is most negative (a small distance to p_j raises that class's logit most).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import PrototypeNetConfig

__all__ = ["PrototypeNet", "ConvEncoder", "StandardCNN", "prototype_losses"]


class ConvEncoder(nn.Module):
    """f: 3x3 conv layers with sigmoid activations, `channels` filters each and `latent_channels` in the last."""

    def __init__(self, in_channels: int, channels: int, latent_channels: int, strides: list[int]):
        super().__init__()
        widths = [in_channels] + [channels] * (len(strides) - 1) + [latent_channels]
        self.layers = nn.ModuleList(nn.Conv2d(a, b, 3, stride=s, padding=1)
                                    for a, b, s in zip(widths[:-1], widths[1:], strides))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Size]]:
        """The latent feature map and the spatial size before each layer (the decoder restores them)."""
        sizes = []
        for layer in self.layers:
            sizes.append(x.shape[-2:])
            x = torch.sigmoid(layer(x))
        return x, sizes


def check_images(x, shape: tuple[int, ...], who: str) -> None:
    """A clear error for anything but a float batch of images of `shape`."""
    if not torch.is_tensor(x) or not x.is_floating_point():
        raise TypeError(f"{who} expects a floating-point tensor of shape (batch, {', '.join(map(str, shape))}), "
                        f"got {getattr(x, 'dtype', type(x).__name__)}")
    if x.dim() != 4 or tuple(x.shape[1:]) != shape:
        raise ValueError(f"{who} expects images of shape (batch, {', '.join(map(str, shape))}), got {tuple(x.shape)}")


def prototype_losses(x: torch.Tensor, x_hat: torch.Tensor, z: torch.Tensor, distances: torch.Tensor) -> dict:
    """R, R1 and R2 of the paper's objective for a batch: z (n, q) the codes, distances (n, m)."""
    recon = (x_hat - x).pow(2).reshape(x.shape[0], -1).sum(-1).mean()
    r1 = distances.min(dim=0).values.mean()  # over prototypes j: min over the batch's inputs i
    r2 = distances.min(dim=1).values.mean()  # over inputs i: min over prototypes j
    return {"R": recon, "R1": r1, "R2": r2}


class PrototypeNet(nn.Module):
    """Autoencoder + prototype layer + fully connected layer; forward gives the class logits."""

    def __init__(self, config: PrototypeNetConfig | None = None):
        super().__init__()
        self.config = config = config or PrototypeNetConfig()
        channels, height, width = config.input_shape
        self.encoder = ConvEncoder(channels, config.channels, config.latent_channels, config.strides)
        widths = [channels] + [config.channels] * (len(config.strides) - 1) + [config.latent_channels]
        self.decoder = nn.ModuleList(nn.ConvTranspose2d(b, a, 3, stride=s, padding=1)
                                     for a, b, s in reversed(list(zip(widths[:-1], widths[1:], config.strides))))
        with torch.no_grad():
            latent, self._sizes = self.encoder(torch.zeros(1, channels, height, width))
        self.latent_shape = tuple(latent.shape[1:])
        self.latent_dim = latent.numel()
        # the authors initialise the prototypes uniformly in [0, 1], the range of the sigmoid codes
        self.prototype_vectors = nn.Parameter(torch.rand(config.num_prototypes, self.latent_dim))
        self.last_layer = nn.Linear(config.num_prototypes, config.num_classes, bias=False)  # w

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """f(x), flattened: (batch, q)."""
        check_images(x, tuple(self.config.input_shape), "prototype-net")
        z, _ = self.encoder(x)
        return z.flatten(1)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """g(z): codes (batch, q) back to images (batch, C, H, W)."""
        h = z.reshape(z.shape[0], *self.latent_shape)
        for layer, size in zip(self.decoder, reversed(self._sizes)):
            h = torch.sigmoid(layer(h, output_size=list(size)))
        return h

    def prototype_distances(self, z: torch.Tensor) -> torch.Tensor:
        """p(z): squared L2 distances ||z_i - p_j||^2, (batch, m)."""
        return (z.unsqueeze(1) - self.prototype_vectors.unsqueeze(0)).pow(2).sum(-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last_layer(self.prototype_distances(self.encode(x)))

    def losses(self, x: torch.Tensor, y: torch.Tensor) -> dict:
        """Every term of the objective on a batch, and their weighted sum as "loss"."""
        z = self.encode(x)
        distances = self.prototype_distances(z)
        terms = prototype_losses(x, self.decode(z), z, distances)
        terms["E"] = F.cross_entropy(self.last_layer(distances), y)
        cfg = self.config
        terms["loss"] = terms["E"] + cfg.lambda_recon * terms["R"] + cfg.lambda_r1 * terms["R1"] + cfg.lambda_r2 * terms["R2"]
        return terms

    def training_step(self, batch, step) -> dict:
        """One update on the paper's four-term objective."""
        terms = self.losses(step.task.inputs(batch)[0], step.task.targets(batch))
        step.backward(terms["loss"])
        step.step()
        return terms

    @torch.no_grad()
    def prototypes(self) -> torch.Tensor:
        """The decoded prototypes g(p_j): (m, C, H, W) images."""
        return self.decode(self.prototype_vectors)

    @torch.no_grad()
    def prototype_classes(self) -> torch.Tensor:
        """Each prototype's class: the class whose weight from that prototype is the most negative."""
        return self.last_layer.weight.argmin(dim=0)


class StandardCNN(nn.Module):
    """The paper's baseline: the same encoder layers, then a fully connected layer to the logits."""

    def __init__(self, config: PrototypeNetConfig):
        super().__init__()
        self.config = config
        channels, height, width = config.input_shape
        self.encoder = ConvEncoder(channels, config.channels, config.latent_channels, config.strides)
        with torch.no_grad():
            latent, _ = self.encoder(torch.zeros(1, channels, height, width))
        self.classifier = nn.Linear(latent.numel(), config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_images(x, tuple(self.config.input_shape), "StandardCNN")
        return self.classifier(self.encoder(x)[0].flatten(1))
