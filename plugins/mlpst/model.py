"""MLPST (Zhang et al., "MLPST: MLP is All You Need for Spatio-Temporal Prediction", CIKM 2023): a
pure-MLP model of grid flows that captures space from local and global receptive fields, then time
over the closeness, period and trend intervals, in linear cost and with few parameters.

Input (batch, lc + lp + lt, C, H, W): closeness, period and trend maps (ST-ResNet's layout). Each
map is cut into N = HW / p^2 patches of p x p cells. In order:

1. Spatial mixing (per time step), `layers` blocks of pre-norm residual MLPs (as in MLP-Mixer):
   - local: an MLP over the C p^2 values inside each patch (the local receptive field; shared by
     all patches), which also embeds the patch into a token of width d;
   - global: an MLP across the N tokens (every patch sees the whole city: the global field);
   - channel: an MLP over the d features of each token.
2. Temporal mixing: for each interval (closeness, period, trend) an MLP over its steps mixes them
   into one token map; an interval MLP then mixes the three interval summaries into one.
3. Output: a linear map from each token back to its C p^2 cells: the next map, (batch, C H W).

Every layer is an MLP over one axis, so the cost grows linearly with the cells and the steps.

Departures: the layer sizes (d, MLP ratio, blocks, patch size) are chosen for the small grid here,
not the paper's; where the paper's exact block order or normalisation is not recalled, the
MLP-Mixer convention (pre-LayerNorm, GELU, residuals) is used; the temporal MLPs mix steps by a
learned linear map followed by a GELU MLP.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import MLPSTConfig

__all__ = ["MLPST", "patchify", "unpatchify"]


def patchify(x: torch.Tensor, p: int) -> torch.Tensor:
    """(..., C, H, W) -> (..., N, C p^2), patches in row-major order."""
    *lead, c, h, w = x.shape
    x = x.reshape(*lead, c, h // p, p, w // p, p)
    x = x.movedim(-4, -5).movedim(-2, -4)  # (..., H/p, W/p, C, p, p)
    return x.reshape(*lead, (h // p) * (w // p), c * p * p)


def unpatchify(x: torch.Tensor, p: int, c: int, h: int, w: int) -> torch.Tensor:
    """The inverse of `patchify`: (..., N, C p^2) -> (..., C, H, W)."""
    *lead, _, _ = x.shape
    x = x.reshape(*lead, h // p, w // p, c, p, p)
    x = x.movedim(-4, -2).movedim(-5, -4)  # (..., C, H/p, p, W/p, p)
    return x.reshape(*lead, c, h, w)


def mlp(width: int, ratio: float, out: int | None = None) -> nn.Sequential:
    hidden = max(1, int(round(width * ratio)))
    return nn.Sequential(nn.Linear(width, hidden), nn.GELU(), nn.Linear(hidden, out or width))


class SpatialBlock(nn.Module):
    """Global (across tokens) then channel (within tokens) mixing, pre-norm residual MLPs."""

    def __init__(self, tokens: int, dim: int, ratio: float):
        super().__init__()
        self.norm_tokens, self.global_mlp = nn.LayerNorm(dim), mlp(tokens, ratio)
        self.norm_channels, self.channel_mlp = nn.LayerNorm(dim), mlp(dim, ratio)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (..., N, d)
        x = x + self.global_mlp(self.norm_tokens(x).transpose(-1, -2)).transpose(-1, -2)
        return x + self.channel_mlp(self.norm_channels(x))


class MLPST(nn.Module):
    """(batch, lc + lp + lt, C, H, W) -> (batch, C * H * W), the next flow map."""

    def __init__(self, config: MLPSTConfig | None = None):
        super().__init__()
        self.config = cfg = config or MLPSTConfig()
        p, d = cfg.patch_size, cfg.hidden_dim
        patch, tokens = cfg.channels * p * p, (cfg.height // p) * (cfg.width // p)
        self.local_norm, self.local_mlp = nn.LayerNorm(patch), mlp(patch, cfg.mlp_ratio)  # inside a patch
        self.embed = nn.Linear(patch, d)
        self.blocks = nn.ModuleList(SpatialBlock(tokens, d, cfg.mlp_ratio) for _ in range(cfg.layers))
        self.intervals = [n for n in (cfg.closeness, cfg.period, cfg.trend) if n > 0]
        self.temporal = nn.ModuleList(nn.Linear(n, 1) for n in self.intervals)  # steps -> one map per interval
        self.temporal_norm = nn.LayerNorm(d)
        self.temporal_mlp = mlp(d, cfg.mlp_ratio)
        self.interval_mix = nn.Linear(len(self.intervals), 1)  # the intervals -> one
        self.head_norm, self.head = nn.LayerNorm(d), nn.Linear(d, patch)

    def spatial(self, x: torch.Tensor) -> torch.Tensor:
        """(batch, T, C, H, W) -> (batch, T, N, d): local, global and channel mixing per time step."""
        patches = patchify(x, self.config.patch_size)
        patches = patches + self.local_mlp(self.local_norm(patches))
        tokens = self.embed(patches)
        for block in self.blocks:
            tokens = block(tokens)
        return tokens

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        cfg = self.config
        expected = (cfg.steps, cfg.channels, cfg.height, cfg.width)
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"mlpst expects a floating-point tensor (batch, {', '.join(map(str, expected))}), got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 5 or tuple(x.shape[1:]) != expected:
            raise ValueError(f"mlpst expects input of shape (batch, {', '.join(map(str, expected))}) (closeness, "
                             f"period, trend maps), got {tuple(x.shape)}")
        tokens = self.spatial(x)  # (batch, T, N, d)
        summaries, start = [], 0
        for n, mix in zip(self.intervals, self.temporal):
            part = tokens[:, start:start + n].movedim(1, -1)  # (batch, N, d, n)
            summary = mix(part).squeeze(-1)  # (batch, N, d)
            summaries.append(summary + self.temporal_mlp(self.temporal_norm(summary)))
            start += n
        fused = self.interval_mix(torch.stack(summaries, -1)).squeeze(-1)  # (batch, N, d)
        out = self.head(self.head_norm(fused))  # (batch, N, C p^2)
        return unpatchify(out, cfg.patch_size, cfg.channels, cfg.height, cfg.width).flatten(1)
