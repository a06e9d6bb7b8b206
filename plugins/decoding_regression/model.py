"""Decoding-based regression (Song and Bahri, "Decoding-based Regression", 2025,
arXiv:2501.19383): a regression model whose head is a small causal transformer that writes the
target as a sequence of digit tokens, trained for next-token prediction with cross entropy,
against the usual point head trained with the MSE.

Model (Sec. 3): an MLP encoder maps the features x to h(x); the decoder reads h(x), projected to
its width, as the first token of its sequence, then the tokens t_1..t_{i-1} (token embedding plus a
learned position embedding), under a causal mask, and gives p(t_i | x, t_<i) at position i. Only
the tokens allowed at a position (digits, or a sign) get probability (tokenizer.py). Training
minimises the cross entropy -sum_i log p(t_i | x, t_<i) of the target's tokens (teacher forcing).
The model is thus a full density over y: a histogram with B^K bins in the normalized
tokenization, p(y | x) = p(tokens(y) | x) / bin width (`log_density`).

Point prediction (`forward`): the mean of the decoded distribution, estimated from `samples`
sampled sequences. As the value is linear in each digit given the tokens before it (tokenizer.py),
each digit's contribution is taken as its exact conditional expectation given the sampled prefix,

    y_hat = mean over samples of  scale(t) sum_k w_k E[d_k | x, t_<k] + offset(t),

an unbiased estimate of E[y | x] with lower variance than the mean of decoded samples, and
differentiable in the parameters. At evaluation the samples come from a generator with a fixed
seed, so predictions are reproducible. `sample` draws values, `log_density` scores them.

`head="mse"` replaces the decoder by a linear layer on the same encoder, trained with the task's
MSE: the baseline, which can give only the conditional mean.

Departures: the encoder/decoder sizes are small fixed defaults (the paper varies them); the
point estimate uses the Rao-Blackwellised mean described above instead of the plain mean of
decoded samples (same expectation).
"""

from __future__ import annotations

import torch
from torch import nn

from .config import DecodingRegressionConfig
from .tokenizer import DigitTokenizer

__all__ = ["DecodingRegressor", "EVAL_SEED"]

EVAL_SEED = 0  # generator seed of the evaluation-time samples


class DecodingRegressor(nn.Module):
    """(batch, d_in) features -> (batch, 1) predicted mean; `head` decides how it is made and trained."""

    def __init__(self, config: DecodingRegressionConfig | None = None):
        super().__init__()
        self.config = config = config or DecodingRegressionConfig()
        layers, size = [], config.d_in
        for _ in range(config.encoder_layers):
            layers += [nn.Linear(size, config.encoder_dim), nn.ReLU()]
            size = config.encoder_dim
        self.encoder = nn.Sequential(*layers)
        self.tokenizer = DigitTokenizer(config)
        if config.head == "mse":
            self.point = nn.Linear(size, 1)
            return
        d, length = config.d_model, self.tokenizer.length
        self.context = nn.Linear(size, d)
        self.token_embedding = nn.Embedding(self.tokenizer.vocab, d)
        self.position_embedding = nn.Parameter(torch.randn(length, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, config.heads, dim_feedforward=4 * d, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.decoder = nn.TransformerEncoder(layer, config.decoder_layers, enable_nested_tensor=False)
        self.out_norm = nn.LayerNorm(d)
        self.logits = nn.Linear(d, self.tokenizer.vocab)

    # --- the decoder ----------------------------------------------------------------------------------
    def _check(self, x: torch.Tensor) -> None:
        d = self.config.d_in
        if not torch.is_tensor(x) or not x.is_floating_point():
            raise TypeError(f"decoding-regression expects floating-point features of shape (batch, {d}), "
                            f"got {getattr(x, 'dtype', type(x).__name__)}")
        if x.dim() != 2 or x.shape[-1] != d:
            raise ValueError(f"decoding-regression expects features of shape (batch, {d}), got {tuple(x.shape)}")

    def _need_decoder(self, what: str) -> None:
        if self.config.head != "decoder":
            raise ValueError(f"{what} needs the decoder head; this model has head={self.config.head!r}")

    def token_log_probs(self, context: torch.Tensor, prefix: torch.Tensor) -> torch.Tensor:
        """Log p(t_i | x, t_<i) for i = 0..len(prefix): context (n, d), prefix tokens (n, j) ->
        (n, j + 1, vocab), disallowed tokens at -inf."""
        n, j = prefix.shape
        sequence = torch.cat([context[:, None], self.token_embedding(prefix)], dim=1) + self.position_embedding[: j + 1]
        mask = nn.Transformer.generate_square_subsequent_mask(j + 1, device=context.device)
        hidden = self.out_norm(self.decoder(sequence, mask=mask, is_causal=True))
        logits = self.logits(hidden) / self.config.temperature
        allowed = self.tokenizer.valid(context.device)[: j + 1]
        return torch.log_softmax(logits.masked_fill(~allowed, float("-inf")), dim=-1)

    def log_prob_tokens(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """(batch,) log p(tokens | x) by teacher forcing."""
        log_probs = self.token_log_probs(self.context(self.encoder(x)), tokens[:, :-1])
        return log_probs.gather(-1, tokens[..., None])[..., 0].sum(-1)

    def log_density(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """(batch,) log p(y | x): the log probability of y's tokens over the width of their bin."""
        self._need_decoder("log_density")
        self._check(x)
        tokens = self.tokenizer.encode(y.reshape(-1))
        return self.log_prob_tokens(x, tokens) - self.tokenizer.bin_width(tokens).log()

    def _sample_tokens(self, x: torch.Tensor, samples: int, generator: torch.Generator | None):
        """Sample `samples` token sequences per input: tokens (batch, samples, length) and the per-position
        distributions they were drawn from (batch, samples, length, vocab)."""
        context = self.context(self.encoder(x)).repeat_interleave(samples, dim=0)
        tokens = torch.zeros(len(context), 0, dtype=torch.long, device=x.device)
        probs = []
        for _ in range(self.tokenizer.length):
            p = self.token_log_probs(context, tokens)[:, -1].exp()
            probs.append(p)
            draw = torch.multinomial(p.detach().float(), 1, generator=generator)
            tokens = torch.cat([tokens, draw], dim=1)
        b = len(x)
        return tokens.reshape(b, samples, -1), torch.stack(probs, dim=1).reshape(b, samples, len(probs), -1)

    @torch.no_grad()
    def sample(self, x: torch.Tensor, samples: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """(batch, samples) values drawn from p(y | x)."""
        self._need_decoder("sample")
        self._check(x)
        tokens, _ = self._sample_tokens(x, samples, generator)
        return self.tokenizer.decode(tokens)

    def expected_value(self, x: torch.Tensor, samples: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """(batch,) E[y | x] estimated from `samples` sequences, each digit by its exact conditional mean."""
        tokens, probs = self._sample_tokens(x, samples, generator)
        base = self.tokenizer.base
        digit_means = (probs[..., :base] * torch.arange(base, device=x.device, dtype=probs.dtype)).sum(-1)
        scale, offset = self.tokenizer.scale_offset(tokens)
        weights = self.tokenizer.digit_weights(x.device, probs.dtype)
        return (scale * (digit_means * weights).sum(-1) + offset).mean(-1)

    # --- the zoo interface ----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check(x)
        if self.config.head == "mse":
            return self.point(self.encoder(x))
        generator = None
        if not self.training:
            generator = torch.Generator(device=x.device).manual_seed(EVAL_SEED)
        return self.expected_value(x, self.config.samples, generator)[:, None]

    def training_step(self, batch, step) -> dict:
        """Decoder: cross entropy of the target's tokens (teacher forcing). MSE head: the task's loss."""
        x, y = batch[0], batch[1]
        if self.config.head == "mse":
            loss = step.loss(self(x), batch)
        else:
            self._check(x)
            tokens = self.tokenizer.encode(y.reshape(len(y), -1)[:, 0])
            loss = -self.log_prob_tokens(x, tokens).mean() / self.tokenizer.length
        step.backward(loss)
        step.step()
        return {"loss": loss.detach()}
