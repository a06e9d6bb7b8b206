"""Pointer Networks (Vinyals, Fortunato and Jaitly, 2015, arXiv:1506.03134).

An LSTM encoder reads the input elements P_1..P_n; an LSTM decoder emits one output per step, and
the output is a *position* of the input, chosen by content-based attention used as a pointer
(paper Eq. 3):

    u^i_j = v^T tanh(W1 e_j + W2 d_i),   j in (1, ..., n)
    p(C_i | C_1..C_{i-1}, P) = softmax(u^i)

so the output dictionary grows with the input and a model trained on n <= 10 can name position 25.

`decoder="attention"` is the paper's baseline, seq2seq with (Bahdanau-style) attention: the same
scores give a context c_i = sum_j softmax(u^i)_j e_j, and the output is a softmax over a *fixed*
dictionary of `max_positions` positions computed from [d_i; c_i]. Positions past the dictionary
cannot be produced, which is the limitation the paper removes.

Conventions shared by both decoders:
- Position 0 is the end-of-output symbol (the paper's "<=" token); positions 1..n are the inputs.
  Its encoder state is a learned vector, so stopping is one more pointer choice.
- The first decoder input is a learned "=>" vector; afterwards the decoder reads the input element
  it pointed at last (teacher forcing during training, its own choice when decoding).
- Initialisation: every weight uniform in [-0.08, 0.08] (paper Sec. 4).

Departures from the paper: greedy decoding only (the paper also reports beam search); the output is
not constrained to valid answers, so validity is measured, not imposed (the paper does the same for
the convex hull). The attention baseline masks dictionary entries beyond the input length, a help
the paper does not say it gives; it can only make the baseline stronger.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import PointerNetConfig

__all__ = ["PointerNet", "END"]

END = 0  # output position meaning "stop"


class _AdditiveScores(nn.Module):
    """u_j^i = v^T tanh(W1 e_j + W2 d_i) for every decoder step i and position j."""

    def __init__(self, hidden: int):
        super().__init__()
        self.w1 = nn.Linear(hidden, hidden, bias=False)
        self.w2 = nn.Linear(hidden, hidden, bias=False)
        self.v = nn.Linear(hidden, 1, bias=False)

    def project_keys(self, enc: torch.Tensor) -> torch.Tensor:
        return self.w1(enc)  # (B, n+1, H): computed once per input, reused every step

    def forward(self, keys: torch.Tensor, dec: torch.Tensor) -> torch.Tensor:
        # keys (B, n+1, H), dec (B, T, H) -> scores (B, T, n+1)
        return self.v(torch.tanh(keys.unsqueeze(1) + self.w2(dec).unsqueeze(2))).squeeze(-1)


class PointerNet(nn.Module):
    """Ptr-Net (or the seq2seq+attention baseline) over sequences of `input_dim`-vectors.

    forward(points, targets=None) -> {"logits": (B, T, n+1), "indices": (B, T)}
      points: (B, n, input_dim) float.
      targets: (B, T) int64 output positions (0 = end, i = input i, -100 = padding) for teacher
        forcing; without them the model decodes greedily for up to n+1 steps, and `indices` is -1
        after the end symbol.
    """

    def __init__(self, config: PointerNetConfig | None = None):
        super().__init__()
        self.config = config = config or PointerNetConfig()
        h = config.hidden_size
        self.encoder = nn.LSTM(config.input_dim, h, config.num_layers, batch_first=True)
        self.decoder = nn.LSTM(config.input_dim, h, config.num_layers, batch_first=True)
        self.end_state = nn.Parameter(torch.empty(h))  # encoder state standing for the end symbol
        self.go_input = nn.Parameter(torch.empty(config.input_dim))  # the "=>" decoder input
        self.scores = _AdditiveScores(h)
        if config.decoder == "attention":
            self.classifier = nn.Linear(2 * h, config.max_positions + 1)
        for p in self.parameters():
            nn.init.uniform_(p, -config.init_scale, config.init_scale)

    def _check(self, points: torch.Tensor, targets: torch.Tensor | None) -> None:
        d = self.config.input_dim
        if points.dim() != 3 or points.shape[-1] != d or points.shape[1] < 1:
            raise ValueError(f"PointerNet expects points of shape (batch, n, {d}) with n >= 1, got {tuple(points.shape)}")
        if not points.is_floating_point():
            raise TypeError(f"PointerNet expects floating-point points, got {points.dtype}")
        if targets is not None:
            if targets.dim() != 2 or targets.shape[0] != points.shape[0]:
                raise ValueError(f"targets must have shape (batch={points.shape[0]}, steps), got {tuple(targets.shape)}")
            if targets.dtype != torch.long:
                raise TypeError(f"targets must be int64 output positions, got {targets.dtype}")

    def _encode(self, points: torch.Tensor):
        enc, state = self.encoder(points)
        end = self.end_state.expand(points.shape[0], 1, -1)
        return torch.cat([end, enc], dim=1), state  # (B, n+1, H): position 0 is the end symbol

    def _logits(self, keys, memory, dec, n: int) -> torch.Tensor:
        scores = self.scores(keys, dec)  # (B, T, n+1)
        if self.config.decoder == "pointer":
            return scores
        context = torch.softmax(scores, dim=-1) @ memory  # (B, T, H)
        logits = self.classifier(torch.cat([dec, context], dim=-1))  # (B, T, max_positions+1)
        m = self.config.max_positions
        if n <= m:  # positions beyond the input do not exist
            return logits[..., : n + 1]
        # inputs past the dictionary can never be named
        pad = logits.new_full((*logits.shape[:-1], n - m), float("-inf"))
        return torch.cat([logits, pad], dim=-1)

    def _decoder_inputs(self, points: torch.Tensor, previous: torch.Tensor) -> torch.Tensor:
        """Input element at each previous output position (the go vector at position 0/end)."""
        with_go = torch.cat([self.go_input.expand(points.shape[0], 1, -1), points], dim=1)
        return torch.gather(with_go, 1, previous.clamp_min(0).unsqueeze(-1).expand(-1, -1, points.shape[-1]))

    def forward(self, points: torch.Tensor, targets: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        self._check(points, targets)
        batch, n = points.shape[:2]
        memory, state = self._encode(points)
        keys = self.scores.project_keys(memory)
        if targets is not None:
            start = targets.new_zeros(batch, 1)  # position 0 of `with_go` is the go vector
            previous = torch.cat([start, targets[:, :-1].clamp_min(0)], dim=1)
            if (targets > n).any():
                raise ValueError(f"targets name positions up to {int(targets.max())} but the input has n={n}")
            dec, _ = self.decoder(self._decoder_inputs(points, previous), state)
            logits = self._logits(keys, memory, dec, n)
            return {"logits": logits, "indices": logits.argmax(-1)}
        return self._greedy(points, memory, keys, state)

    def _greedy(self, points, memory, keys, state) -> dict[str, torch.Tensor]:
        batch, n = points.shape[:2]
        previous = points.new_zeros(batch, 1, dtype=torch.long)
        done = torch.zeros(batch, dtype=torch.bool, device=points.device)
        all_logits, all_indices = [], []
        for _ in range(n + 1):
            dec, state = self.decoder(self._decoder_inputs(points, previous), state)
            logits = self._logits(keys, memory, dec, n)  # (B, 1, n+1)
            choice = logits.argmax(-1).squeeze(1)
            all_logits.append(logits)
            all_indices.append(torch.where(done, torch.full_like(choice, -1), choice))
            done = done | (choice == END)
            if bool(done.all()):
                break
            previous = choice.unsqueeze(1)
        return {"logits": torch.cat(all_logits, dim=1), "indices": torch.stack(all_indices, dim=1)}

    def evaluation_step(self, batch, task) -> dict[str, torch.Tensor]:
        """Greedy decoding from the points alone: what the task's metrics score."""
        points = task.inputs(batch)[0]
        return self(points)
