"""Augmentations of small images (digits 8x8) for the two views: shifts, crops (cutout) and noise.

Every draw comes from a torch.Generator the caller owns, so a run's views are reproducible and a
checkpointed generator resumes the same sequence.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["augment"]


def augment(x: torch.Tensor, generator: torch.Generator, *, shift: int = 1, cutout: int = 3,
            cutout_prob: float = 0.5, noise: float = 0.1) -> torch.Tensor:
    """One random view of a batch. Images (N, C, H, W): a random translation by up to `shift` pixels
    (zero padding, then a crop back to H x W), a `cutout` x `cutout` square set to 0 with probability
    `cutout_prob`, then Gaussian noise of std `noise`, clipped to the inputs' range [0, 1] for images.
    Other inputs (N, ...): Gaussian noise only."""
    device = x.device
    n = x.shape[0]

    def rand(*shape):
        return torch.rand(*shape, generator=generator).to(device)

    if x.dim() == 4 and shift > 0:
        _, _, h, w = x.shape
        padded = F.pad(x, (shift, shift, shift, shift))
        dy = torch.randint(0, 2 * shift + 1, (n,), generator=generator).to(device)
        dx = torch.randint(0, 2 * shift + 1, (n,), generator=generator).to(device)
        rows = (dy[:, None] + torch.arange(h, device=device)[None, :])  # (N, H)
        cols = (dx[:, None] + torch.arange(w, device=device)[None, :])  # (N, W)
        batch = torch.arange(n, device=device)[:, None, None]
        x = padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)
    if x.dim() == 4 and cutout > 0 and cutout_prob > 0:
        _, _, h, w = x.shape
        top = torch.randint(0, h - cutout + 1, (n,), generator=generator).to(device)
        left = torch.randint(0, w - cutout + 1, (n,), generator=generator).to(device)
        keep = rand(n) >= cutout_prob
        ys = torch.arange(h, device=device)[None, :]
        xs = torch.arange(w, device=device)[None, :]
        inside_y = (ys >= top[:, None]) & (ys < top[:, None] + cutout)
        inside_x = (xs >= left[:, None]) & (xs < left[:, None] + cutout)
        hole = (inside_y[:, :, None] & inside_x[:, None, :]) & ~keep[:, None, None]
        x = x.masked_fill(hole[:, None], 0.0)
    if noise > 0:
        x = x + noise * torch.randn(x.shape, generator=generator).to(device)
        if x.dim() == 4:
            x = x.clamp(0.0, 1.0)
    return x
