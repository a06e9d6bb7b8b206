"""FiLM: Visual Reasoning with a General Conditioning Layer (Perez et al., 2017, arXiv:1709.07871).

A FiLM layer modulates every feature map of a network with a per-example, per-channel affine map
whose coefficients are predicted from the conditioning input (paper Eq. 1-3):

    FiLM(F_c | gamma_c, beta_c) = gamma_c * F_c + beta_c,    (gamma, beta) = FiLM generator(question)

The visual-reasoning model (Sec. 3, Fig. 3):
- FiLM generator: word embeddings (200) -> GRU (4096); its last hidden state q is mapped linearly
  to (gamma, beta) for every residual block.
- Image stem trained from raw pixels: 4 convolutions of 128 4x4 kernels, stride 2, with batch
  normalisation and ReLU.
- 4 residual blocks, each: concatenate x/y coordinate maps, 1x1 conv + ReLU, 3x3 conv, batch norm
  without affine parameters, FiLM, ReLU, and the residual sum with the 1x1 conv's output.
- Classifier: coordinate maps, 1x1 conv to 512 maps + ReLU, global max pooling, MLP with 1024
  hidden units, softmax over answers.

Departures from the paper:
- The generator predicts delta-gamma and uses gamma = 1 + delta-gamma, as the authors' released
  training scripts do (`gamma_baseline 1`), so a freshly initialised block starts near the
  unmodulated network; the paper's Eq. 3 writes gamma directly.
- Questions are right-padded token ids (0 = padding); the question embedding is the GRU state at
  each question's last token.
- The `sort-of-clevr` variant (small images, 2 stem layers, 32-64 channels, GRU 64) is this zoo's,
  sized for CPU; it changes only config values, never the structure.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import FiLMConfig

__all__ = ["FiLMNet", "FiLM", "FiLMedResBlock", "QuestionEncoder", "ImageStem", "coordinate_maps"]


def coordinate_maps(x: torch.Tensor) -> torch.Tensor:
    """Two maps of the x and y position of every pixel, scaled to [-1, 1]: (batch, 2, H, W)."""
    batch, _, height, width = x.shape
    ys = torch.linspace(-1.0, 1.0, height, device=x.device, dtype=x.dtype)
    xs = torch.linspace(-1.0, 1.0, width, device=x.device, dtype=x.dtype)
    grid_y, grid_x = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([grid_x, grid_y]).expand(batch, 2, height, width)


class FiLM(nn.Module):
    """Feature-wise linear modulation of (batch, C, H, W) maps by (batch, C) gamma and beta."""

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        return gamma[:, :, None, None] * x + beta[:, :, None, None]


class QuestionEncoder(nn.Module):
    """Word embeddings and a GRU; returns the hidden state at each question's last (non-pad) token."""

    def __init__(self, vocab_size: int, embedding_dim: int, rnn_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
        self.gru = nn.GRU(embedding_dim, rnn_dim, batch_first=True)

    def forward(self, question: torch.Tensor) -> torch.Tensor:
        states, _ = self.gru(self.embedding(question))
        last = (question != 0).sum(dim=1).clamp(min=1) - 1
        return states[torch.arange(question.shape[0], device=question.device), last]


class ImageStem(nn.Sequential):
    """Convolutions with batch norm and ReLU that turn raw pixels into feature maps."""

    def __init__(self, in_chans: int, channels: int, layers: int, kernel: int, stride: int):
        modules: list[nn.Module] = []
        for i in range(layers):
            modules += [nn.Conv2d(in_chans if i == 0 else channels, channels, kernel, stride=stride, padding=1),
                        nn.BatchNorm2d(channels), nn.ReLU(inplace=True)]
        super().__init__(*modules)


class FiLMedResBlock(nn.Module):
    """Coordinates, 1x1 conv + ReLU, 3x3 conv, BN (no affine), FiLM, ReLU, residual sum."""

    def __init__(self, in_channels: int, channels: int):
        super().__init__()
        self.input_proj = nn.Conv2d(in_channels + 2, channels, 1)
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)
        self.norm = nn.BatchNorm2d(channels, affine=False)
        self.film = FiLM()

    def forward(self, x: torch.Tensor, gamma: torch.Tensor, beta: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.input_proj(torch.cat([x, coordinate_maps(x)], dim=1)))
        return x + F.relu(self.film(self.norm(self.conv(x)), gamma, beta))


class FiLMNet(nn.Module):
    """FiLM visual-reasoning model: (images (batch, C, H, W), questions (batch, T) token ids) -> answer logits."""

    def __init__(self, config: FiLMConfig):
        super().__init__()
        self.config = config
        c = config
        self.question_encoder = QuestionEncoder(c.vocab_size, c.embedding_dim, c.rnn_dim)
        # the FiLM generator: delta-gamma and beta of every block from the question embedding
        self.film_generator = nn.Linear(c.rnn_dim, 2 * c.num_blocks * c.block_channels)
        self.stem = ImageStem(c.in_chans, c.stem_channels, c.stem_layers, c.stem_kernel, c.stem_stride)
        stem_out = c.stem_channels if c.stem_layers else c.in_chans
        self.blocks = nn.ModuleList(
            FiLMedResBlock(stem_out if i == 0 else c.block_channels, c.block_channels) for i in range(c.num_blocks))
        self.classifier_proj = nn.Conv2d(c.block_channels + 2, c.classifier_proj_dim, 1)
        self.classifier = nn.Sequential(
            nn.Linear(c.classifier_proj_dim, c.classifier_fc_dim), nn.ReLU(inplace=True),
            nn.Linear(c.classifier_fc_dim, c.num_answers))

    def film_parameters(self, question: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(gamma, beta), each (batch, num_blocks, block_channels), for a batch of questions."""
        c = self.config
        params = self.film_generator(self.question_encoder(question)).view(-1, c.num_blocks, 2, c.block_channels)
        return 1.0 + params[:, :, 0], params[:, :, 1]

    def forward(self, image: torch.Tensor, question: torch.Tensor) -> torch.Tensor:
        self._check_inputs(image, question)
        gamma, beta = self.film_parameters(question)
        x = self.stem(image)
        for i, block in enumerate(self.blocks):
            x = block(x, gamma[:, i], beta[:, i])
        x = F.relu(self.classifier_proj(torch.cat([x, coordinate_maps(x)], dim=1)))
        return self.classifier(x.amax(dim=(2, 3)))

    def _check_inputs(self, image: torch.Tensor, question: torch.Tensor) -> None:
        channels = self.config.in_chans
        if not isinstance(image, torch.Tensor) or not image.is_floating_point():
            kind = f"dtype {image.dtype}" if isinstance(image, torch.Tensor) else type(image).__name__
            raise TypeError(f"film expects floating-point images of shape (batch, {channels}, H, W), got {kind}")
        if image.dim() != 4 or image.shape[1] != channels:
            raise ValueError(f"film expects images of shape (batch, {channels}, H, W), got {tuple(image.shape)}")
        if not isinstance(question, torch.Tensor) or question.dtype != torch.long:
            kind = f"dtype {question.dtype}" if isinstance(question, torch.Tensor) else type(question).__name__
            raise TypeError(f"film expects questions as int64 token ids of shape (batch, T), got {kind}")
        if question.dim() != 2 or question.shape[0] != image.shape[0]:
            raise ValueError(f"film expects questions of shape ({image.shape[0]}, T) for {image.shape[0]} images, "
                             f"got {tuple(question.shape)}")
        # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
        if (not torch.compiler.is_compiling()
                and question.numel() and (question.min() < 0 or question.max() >= self.config.vocab_size)):
            raise ValueError(f"film question token ids must lie in [0, {self.config.vocab_size}), "
                             f"got values in [{int(question.min())}, {int(question.max())}]")
