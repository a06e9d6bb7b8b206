"""SampleRNN (Mehri, Kumar, Gulrajani, Kumar, Jain, Sotelo, Courville & Bengio, 2016,
arXiv:1612.07837): a hierarchy of RNN tiers at decreasing time scales above a sample-level
autoregressive MLP, over quantised audio samples.

p(X) = prod_i p(x_{i+1} | x_1..x_i) (Eq. 1). Tier k, from the top, reads non-overlapping frames of
FS(k) samples and runs a GRU at its own rate (Eqs. 2-3):

    inp_t^(k) = W_x f_t^(k) + c_t^(k+1),      h_t = GRU(h_{t-1}, inp_t^(k)),

where f_t is the frame (samples scaled to [-2, 2], as in the authors' code) and c^(k+1) the
conditioning from the tier above (none for the top tier). Its state conditions the r = FS(k) /
FS(k-1) frames of the tier below through r learned linear projections (Eq. 4: c_{(t-1)r+j}^(k) =
W_j h_t, one matrix of r blocks here). The sample-level module (Eqs. 5-6) is an MLP over the
embeddings of the FS(1) previous samples (FS(1) = the lowest tier's frame size) plus the
conditioning, ending in a softmax over the q levels:

    inp_i^(1) = W_x^(1) [e(x_{i-FS(1)}) .. e(x_{i-1})] + c_i^(2),    p(x_i | ...) = Softmax(MLP(inp_i^(1))).

Training is truncated BPTT (Sec. 2.3): a long sequence is cut into `seq_len`-sample subsequences;
every tier's hidden state is carried from one to the next, gradients are not. With `frame_sizes=[1]`
the model is an RNN over samples with an MLP output: the paper's single-tier RNN baseline.

Departures: the sample-level MLP is the authors' code's (an input projection, two hidden ReLU
layers, an output layer; the paper says "MLP" without sizes); weight normalisation on the linear
layers, a learned initial state and the [-2, 2] input scaling follow the authors' code too.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .config import SampleRNNConfig

__all__ = ["SampleRNN", "quantize", "dequantize", "mu_law_encode", "mu_law_decode"]

LOG2 = math.log(2.0)


def mu_law_encode(x: torch.Tensor, mu: float) -> torch.Tensor:
    """sign(x) ln(1 + mu |x|) / ln(1 + mu) for x in [-1, 1]."""
    return torch.sign(x) * torch.log1p(mu * x.abs()) / math.log1p(mu)


def mu_law_decode(y: torch.Tensor, mu: float) -> torch.Tensor:
    return torch.sign(y) * torch.expm1(y.abs() * math.log1p(mu)) / mu


def quantize(x: torch.Tensor, levels: int = 256, kind: str = "linear") -> torch.Tensor:
    """Real samples in [-1, 1] -> integer levels 0..levels-1 (linear or mu-law)."""
    x = x.clamp(-1.0, 1.0)
    if kind == "mu-law":
        x = mu_law_encode(x, levels - 1)
    return ((x + 1.0) / 2.0 * (levels - 1) + 0.5).floor().long().clamp(0, levels - 1)


def dequantize(q: torch.Tensor, levels: int = 256, kind: str = "linear") -> torch.Tensor:
    """Integer levels -> the real samples in [-1, 1] they stand for."""
    x = q.float() / (levels - 1) * 2.0 - 1.0
    return mu_law_decode(x, levels - 1) if kind == "mu-law" else x


def _linear(a: int, b: int, weight_norm: bool) -> nn.Module:
    layer = nn.Linear(a, b)
    return nn.utils.parametrizations.weight_norm(layer) if weight_norm else layer


class FrameTier(nn.Module):
    """One RNN tier: frames of `frame_size` samples (plus conditioning) -> GRU -> `ratio` conditioning
    vectors per frame for the tier below (Eqs. 2-4)."""

    def __init__(self, frame_size: int, ratio: int, config: SampleRNNConfig):
        super().__init__()
        self.frame_size, self.ratio, self.q_levels = frame_size, ratio, config.q_levels
        self.input = _linear(frame_size, config.dim, config.weight_norm)
        self.rnn = nn.GRU(config.dim, config.dim, num_layers=config.rnn_layers, batch_first=True)
        self.upsample = _linear(config.dim, config.dim * ratio, config.weight_norm)  # W_1..W_r stacked
        self.h0 = nn.Parameter(torch.zeros(config.rnn_layers, 1, config.dim), requires_grad=config.learn_h0)

    def forward(self, samples: torch.Tensor, conditioning: torch.Tensor | None, hidden: torch.Tensor | None):
        """samples (batch, frames * frame_size) levels; conditioning (batch, frames, dim) or None."""
        batch = samples.shape[0]
        frames = samples.reshape(batch, -1, self.frame_size).float()
        frames = (frames / (self.q_levels / 2.0) - 1.0) * 2.0  # [-2, 2], as in the authors' code
        inp = self.input(frames)
        if conditioning is not None:
            inp = inp + conditioning
        if hidden is None:
            hidden = self.h0.expand(-1, batch, -1).contiguous()
        out, hidden = self.rnn(inp, hidden)
        cond = self.upsample(out).reshape(batch, out.shape[1] * self.ratio, -1)
        return cond, hidden


class SampleMLP(nn.Module):
    """The sample-level module (Eqs. 5-6): embeddings of the `frame_size` previous samples plus the
    conditioning, through ReLU layers, to logits over the q levels."""

    def __init__(self, frame_size: int, config: SampleRNNConfig):
        super().__init__()
        self.frame_size = frame_size
        self.embedding = nn.Embedding(config.q_levels, config.embedding_dim)
        self.input = _linear(frame_size * config.embedding_dim, config.dim, config.weight_norm)
        self.hidden = nn.ModuleList(_linear(config.dim, config.dim, config.weight_norm) for _ in range(2))
        self.output = _linear(config.dim, config.q_levels, config.weight_norm)

    def forward(self, previous: torch.Tensor, conditioning: torch.Tensor) -> torch.Tensor:
        """previous (batch, n + frame_size - 1) levels; conditioning (batch, n, dim) -> (batch, n, q)."""
        windows = previous.unfold(1, self.frame_size, 1)  # (batch, n, frame_size): x_{i-FS}..x_{i-1}
        x = F.relu(self.input(self.embedding(windows).flatten(2)) + conditioning)
        for layer in self.hidden:
            x = F.relu(layer(x))
        return self.output(x)


class SampleRNN(nn.Module):
    """Tiers with `frame_sizes` (top first) over a sample-level MLP; forward gives next-sample logits."""

    def __init__(self, config: SampleRNNConfig | None = None):
        super().__init__()
        self.config = config = config or SampleRNNConfig()
        sizes = list(config.frame_sizes)
        for upper, lower in zip(sizes[:-1], sizes[1:]):
            if upper % lower:
                raise ValueError(f"frame_sizes={sizes}: each tier's frame size must be a multiple of the one below "
                                 f"({upper} is not a multiple of {lower})")
        if config.seq_len % sizes[0]:
            raise ValueError(f"seq_len={config.seq_len} must be a multiple of the top frame size {sizes[0]}")
        ratios = [u // low for u, low in zip(sizes[:-1], sizes[1:])] + [sizes[-1]]
        self.tiers = nn.ModuleList(FrameTier(f, r, config) for f, r in zip(sizes, ratios))
        self.mlp = SampleMLP(sizes[-1], config)
        self.context = sizes[0]  # samples before the first predicted one

    def _check(self, x: torch.Tensor, what: str) -> None:
        if not torch.is_tensor(x) or x.is_floating_point() or x.is_complex() or x.dtype == torch.bool:
            raise TypeError(f"SampleRNN expects integer sample levels (0..{self.config.q_levels - 1}) for {what}, got "
                            f"{getattr(x, 'dtype', type(x).__name__)}; quantize real audio with samplernn.model.quantize")
        if x.dim() != 2:
            raise ValueError(f"SampleRNN expects {what} of shape (batch, samples), got {tuple(x.shape)}")

    def forward(self, x: torch.Tensor, hidden: list | None = None, return_hidden: bool = False):
        """x (batch, context + n) levels, n a multiple of the top frame size -> logits (batch, n, q) of
        x[:, context:] given what precedes each; `hidden`: the tiers' states from the previous
        subsequence (truncated BPTT), returned with `return_hidden`."""
        self._check(x, "x")
        n = x.shape[1] - self.context
        if n <= 0 or n % self.context:
            raise ValueError(f"SampleRNN expects {self.context} context samples plus a multiple of {self.context} "
                             f"samples to predict, got a sequence of {x.shape[1]}")
        # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
        if (not torch.compiler.is_compiling()
                and x.numel() and (int(x.min()) < 0 or int(x.max()) >= self.config.q_levels)):
            raise ValueError(f"sample levels must lie in 0..{self.config.q_levels - 1}, got {int(x.min())}..{int(x.max())}")
        hidden = hidden or [None] * len(self.tiers)
        conditioning, states = None, []
        for tier, h in zip(self.tiers, hidden):
            start = self.context - tier.frame_size  # the frame just before the ones this tier conditions
            cond_in = conditioning
            conditioning, h = tier(x[:, start:start + n], cond_in, h)
            states.append(h)
        fs = self.mlp.frame_size
        logits = self.mlp(x[:, self.context - fs:-1], conditioning)
        return (logits, states) if return_hidden else logits

    def nll_bits(self, x: torch.Tensor) -> torch.Tensor:
        """Per-sequence mean NLL in bits per sample of x[:, context:], run over subsequences of seq_len
        with the state carried (the whole sequence is scored, as in evaluation of the paper)."""
        self._check(x, "x")
        total = x.new_zeros(x.shape[0], dtype=torch.float32)
        hidden, count = None, 0
        for start in range(0, x.shape[1] - self.context, self.config.seq_len):
            chunk = x[:, start:start + self.context + self.config.seq_len]
            logits, hidden = self.forward(chunk, hidden, return_hidden=True)
            nll = F.cross_entropy(logits.transpose(1, 2), chunk[:, self.context:], reduction="none")
            total = total + nll.sum(1)
            count += nll.shape[1]
        return total / count / LOG2

    def _aligned(self, batch, task) -> torch.Tensor:
        """The batch's sequences, less the leading samples this model does not read: a task with a
        longer `context` (extra["context"]) scores the same samples for models of any frame size."""
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        self._check(x, "x")
        context = getattr(getattr(task, "info", None), "extra", {}).get("context", self.context)
        if context < self.context:
            raise ValueError(f"the task gives {context} context samples; this model's top frame needs {self.context}")
        return x[:, context - self.context:]

    def training_step(self, batch, step) -> dict:
        """Truncated BPTT: one update per `seq_len` subsequence, the tiers' states carried, detached."""
        x = self._aligned(batch, step.task)
        hidden, losses = None, []
        for start in range(0, x.shape[1] - self.context, self.config.seq_len):
            chunk = x[:, start:start + self.context + self.config.seq_len]
            logits, hidden = self.forward(chunk, hidden, return_hidden=True)
            hidden = [h.detach() for h in hidden]
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), chunk[:, self.context:].reshape(-1))
            step.backward(loss)
            step.step()
            losses.append(loss.detach())
        loss = torch.stack(losses).mean()
        return {"loss": loss, "bits_per_sample": loss / LOG2}

    @torch.no_grad()
    def evaluation_step(self, batch, task) -> torch.Tensor:
        """Per-sequence NLL in bits per sample, (batch,)."""
        return self.nll_bits(self._aligned(batch, task))

    @torch.no_grad()
    def generate(self, n: int, length: int, temperature: float = 1.0, generator: torch.Generator | None = None,
                 prefix: torch.Tensor | None = None) -> torch.Tensor:
        """Sample `n` sequences of `length` levels (a multiple of the top frame size), one sample at a
        time: each tier steps when its frame is complete, the MLP every sample. The first `context`
        samples are `prefix` (default: the silent level)."""
        sizes = list(self.config.frame_sizes)
        if length <= 0 or length % sizes[0]:
            raise ValueError(f"length must be a positive multiple of the top frame size {sizes[0]}, got {length}")
        device = next(self.parameters()).device
        mid = self.config.q_levels // 2
        x = torch.full((n, self.context + length), mid, dtype=torch.long, device=device)
        if prefix is not None:
            x[:, :self.context] = prefix
        hidden = [None] * len(self.tiers)
        conds = [None] * len(self.tiers)  # each tier's conditioning vectors for the frames below
        fs = self.mlp.frame_size
        for i in range(self.context, self.context + length):
            offset = i - self.context
            for k, tier in enumerate(self.tiers):
                if offset % tier.frame_size == 0:  # a new frame of tier k starts: run one step of it
                    frame = x[:, i - tier.frame_size:i]
                    above = None
                    if k > 0:
                        upper = self.tiers[k - 1]
                        above = conds[k - 1][:, (offset % upper.frame_size) // tier.frame_size][:, None]
                    conds[k], hidden[k] = tier(frame, above, hidden[k])
            cond = conds[-1][:, offset % fs][:, None]
            logits = self.mlp(x[:, i - fs:i], cond)[:, 0] / temperature
            x[:, i] = torch.multinomial(F.softmax(logits, -1), 1, generator=generator)[:, 0]
        return x[:, self.context:]
