"""The LSTM encoder-decoder models of Srivastava et al. (2015, arXiv:1502.04681).

Sec. 2.2-2.4 of the paper: an encoder LSTM reads the input frames v_1..v_T; its final state (every
layer's h and c) is the representation and is copied into
- the reconstruction decoder (the LSTM autoencoder, Sec. 2.2), which outputs the input frames in
  REVERSE order v_T, ..., v_1 (the paper's choice: the last frame read is the nearest, so the
  first target is the easiest), and
- the future predictor (Sec. 2.3), which outputs v_{T+1}, ..., v_{T+K};
together the composite model (Sec. 2.4). A decoder is unconditioned (its input at every step is
zero) or conditional (its input is the previous frame: the target frame while training, its own
prediction at evaluation, zero at the first step). Each output frame is a logistic layer on the
decoder's h; the loss is the pixel-wise cross entropy (the paper's loss for Moving MNIST).

Fine-tuning (Sec. 3.5): the classifier is the encoder LSTM with a softmax layer read at every time
step, the class scores averaged over steps, and dropout on the LSTM outputs; its encoder is
initialised from a trained composite model (`load_encoder`), or randomly for the baseline.

Departures: reconstructions are returned in natural time order (flipped back after the decoder
produced them in reverse), so they line up with the input. The conditional decoder at evaluation
feeds its sigmoid probabilities, not sampled frames.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import LSTMVideoAutoencoderConfig

__all__ = ["LSTMVideoAutoencoder", "FrameDecoder", "composite_loss", "load_encoder"]


class FrameDecoder(nn.Module):
    """An LSTM that starts from the encoder's state and emits `steps` frame logits."""

    def __init__(self, pixels: int, hidden_size: int, num_layers: int, conditional: bool):
        super().__init__()
        self.pixels, self.conditional = pixels, conditional
        self.lstm = nn.LSTM(pixels, hidden_size, num_layers, batch_first=True)
        self.readout = nn.Linear(hidden_size, pixels)

    def forward(self, state: tuple[torch.Tensor, torch.Tensor], steps: int,
                targets: torch.Tensor | None = None) -> torch.Tensor:
        """Frame logits (batch, steps, pixels); `targets` (batch, steps, pixels) feed a conditional
        decoder while training (teacher forcing)."""
        batch = state[0].shape[1]
        zero = state[0].new_zeros(batch, 1, self.pixels)
        if not self.conditional:
            out, _ = self.lstm(zero.expand(batch, steps, self.pixels), state)
            return self.readout(out)
        if targets is not None:
            out, _ = self.lstm(torch.cat([zero, targets[:, :-1]], dim=1), state)
            return self.readout(out)
        frames, previous = [], zero
        for _ in range(steps):  # feed back the own prediction
            out, state = self.lstm(previous, state)
            logits = self.readout(out)
            frames.append(logits)
            previous = torch.sigmoid(logits)
        return torch.cat(frames, dim=1)


class LSTMVideoAutoencoder(nn.Module):
    """Composite model (num_classes = 0): frames (batch, T, S, S) -> (reconstruction logits (batch, T, S, S)
    in natural order or None, future logits (batch, K, S, S) or None). Classifier (num_classes > 0):
    frames (batch, T', S, S) -> class logits (batch, num_classes)."""

    def __init__(self, config: LSTMVideoAutoencoderConfig | None = None):
        super().__init__()
        self.config = config = config or LSTMVideoAutoencoderConfig()
        pixels = config.frame_size ** 2
        self.encoder = nn.LSTM(pixels, config.hidden_size, config.num_layers, batch_first=True)
        if config.num_classes:
            self.dropout = nn.Dropout(config.dropout)
            self.classifier = nn.Linear(config.hidden_size, config.num_classes)
            return
        self.reconstruction = (FrameDecoder(pixels, config.hidden_size, config.num_layers, config.conditional)
                               if config.reconstruct else None)
        self.future = (FrameDecoder(pixels, config.hidden_size, config.num_layers, config.conditional)
                       if config.predict_future else None)

    def _flat(self, frames: torch.Tensor, exact_length: bool) -> torch.Tensor:
        size = self.config.frame_size
        if not torch.is_tensor(frames) or not frames.is_floating_point():
            raise TypeError(f"expected floating-point frames of shape (batch, time, {size}, {size}), got "
                            f"{getattr(frames, 'dtype', type(frames).__name__)}")
        length_ok = frames.dim() == 4 and (frames.shape[1] == self.config.input_frames if exact_length
                                           else frames.shape[1] >= 1)
        if not length_ok or tuple(frames.shape[2:]) != (size, size):
            expected = self.config.input_frames if exact_length else "time"
            raise ValueError(f"expected frames of shape (batch, {expected}, {size}, {size}), got {tuple(frames.shape)}")
        return frames.flatten(2)

    def encode(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The representation: the encoder's final (h, c), each (num_layers, batch, hidden)."""
        _, state = self.encoder(self._flat(frames, exact_length=not self.config.num_classes))
        return state

    def forward(self, frames: torch.Tensor, future: torch.Tensor | None = None):
        if self.config.num_classes:
            out, _ = self.encoder(self._flat(frames, exact_length=False))
            return self.classifier(self.dropout(out)).mean(dim=1)  # scores at every step, averaged
        size, batch = self.config.frame_size, frames.shape[0]
        flat = self._flat(frames, exact_length=True)
        _, state = self.encoder(flat)
        teacher = self.training and self.config.conditional
        recon = future_logits = None
        if self.reconstruction is not None:
            reversed_targets = flat.flip(1) if teacher else None
            recon = self.reconstruction(state, self.config.input_frames, reversed_targets).flip(1)
            recon = recon.reshape(batch, -1, size, size)
        if self.future is not None:
            targets = future.flatten(2) if teacher and future is not None else None
            if teacher and targets is None:
                raise ValueError("a conditional future predictor needs the future frames while training: "
                                 "call model(frames, future)")
            future_logits = self.future(state, self.config.future_frames, targets).reshape(batch, -1, size, size)
        return recon, future_logits


def composite_loss(output, frames: torch.Tensor, future: torch.Tensor) -> torch.Tensor:
    """Pixel cross entropy, summed over a frame's pixels and averaged over frames and sequences, of the
    reconstruction against `frames` plus the prediction against `future` (each part present)."""
    recon, predicted = output
    loss = frames.new_zeros(())
    for logits, target in ((recon, frames), (predicted, future)):
        if logits is None:
            continue
        if logits.shape != target.shape:
            raise ValueError(f"decoder output of shape {tuple(logits.shape)} does not match target frames of shape "
                             f"{tuple(target.shape)}")
        per_frame = F.binary_cross_entropy_with_logits(logits, target, reduction="none").flatten(2).sum(-1)
        loss = loss + per_frame.mean()
    return loss


def load_encoder(classifier: LSTMVideoAutoencoder, pretrained: LSTMVideoAutoencoder) -> LSTMVideoAutoencoder:
    """Initialise the classifier's encoder LSTM from a trained composite model (the paper's fine-tuning)."""
    if not classifier.config.num_classes or pretrained.config.num_classes:
        raise ValueError("load_encoder copies a composite model's encoder (num_classes=0) into a classifier "
                         f"(num_classes>0), got num_classes {classifier.config.num_classes} <- "
                         f"{pretrained.config.num_classes}")
    classifier.encoder.load_state_dict(pretrained.encoder.state_dict())
    return classifier
