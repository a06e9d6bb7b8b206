"""Time per generated token of incremental decoding with a key/value cache, the quantity the paper's
Table 2 compares: the cache is filled with a prompt once, then tokens are decoded one at a time."""

from __future__ import annotations

import time
from collections.abc import Callable

import torch


@torch.no_grad()
def decoding_timer(model, batch: int, length: int, steps: int, seed: int = 0,
                   prefill: bool = True) -> Callable[..., float]:
    """A function returning the mean seconds of one decoding step (all layers, `batch` sequences)
    while the cache grows from length - steps to `length` positions, or to a shorter `upto` when
    given. A prompt of length - steps tokens fills the cache once, untimed; each call rewinds the
    cache to upto - steps positions and decodes `steps` greedy tokens again."""
    if not 0 < steps < length:
        raise ValueError(f"steps must lie in [1, length), got steps={steps}, length={length}")
    model.eval()
    generator = torch.Generator().manual_seed(seed)
    cache = model.new_cache(batch, length)
    if prefill:
        prompt = torch.randint(model.config.vocab_size, (batch, length - steps), generator=generator)
        first = model.decode(prompt, cache)[:, -1:].argmax(-1)
    else:
        for tensor in (*cache.keys, *cache.values):
            tensor.normal_(generator=generator)
        first = torch.randint(model.config.vocab_size, (batch, 1), generator=generator)

    @torch.no_grad()
    def timed(upto: int = length) -> float:
        if not steps < upto <= length:
            raise ValueError(f"upto must lie in ({steps}, {length}], got {upto}")
        cache.length = upto - steps
        token = first
        start = time.perf_counter()
        for _ in range(steps):
            token = model.decode(token, cache)[:, -1:].argmax(-1)
        return (time.perf_counter() - start) / steps

    return timed
