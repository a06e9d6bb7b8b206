"""Speed of `memn2n`: forward+backward of the default config (3 hops, d=20, adjacent tying, PE,
TE, memory 50, batch 32, 7-word sentences) against a plain PyTorch MemN2N written the obvious way
(each hop embeds the story with its A and C, no sharing of the embedded memories), interleaved.

    zoo reproduce memn2n --part perf
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved
from zoo_plugins.memn2n.model import position_encoding

BATCH, MEMORY, WORDS = 32, 50, 7


class ObviousMemN2N(nn.Module):
    def __init__(self, vocab: int, d: int, hops: int, memory: int):
        super().__init__()
        self.emb = nn.ModuleList(nn.Embedding(vocab, d) for _ in range(hops + 1))
        self.temporal = nn.ParameterList(nn.Parameter(torch.randn(memory, d) * 0.1) for _ in range(hops + 1))
        self.hops = hops

    def forward(self, story, query):
        pe = position_encoding(story.shape[-1], self.emb[0].embedding_dim)
        u = (self.emb[0](query) * pe[: query.shape[1]]).sum(1)
        for k in range(self.hops):
            m = (self.emb[k](story) * pe).sum(2) + self.temporal[k][: story.shape[1]]
            c = (self.emb[k + 1](story) * pe).sum(2) + self.temporal[k + 1][: story.shape[1]]
            p = torch.softmax(torch.einsum("bmd,bd->bm", m, u), -1)
            u = u + torch.einsum("bm,bmd->bd", p, c)
        return u @ self.emb[-1].weight.T


def step(model, story, query, answer) -> float:
    start = time.perf_counter()
    nn.functional.cross_entropy(model(story, query), answer).backward()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(30, 2)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    ours = zoo.create("memn2n")
    cfg = ours.config
    ref = ObviousMemN2N(cfg.vocab_size, cfg.embedding_dim, cfg.hops, cfg.memory_size)
    story = torch.randint(1, cfg.vocab_size, (BATCH, MEMORY, WORDS))
    query = torch.randint(1, cfg.vocab_size, (BATCH, WORDS))
    answer = torch.randint(0, cfg.vocab_size, (BATCH,))
    times = interleaved({
        "zoo": lambda: step(ours, story, query, answer),
        "reference": lambda: step(ref, story, query, answer),
    }, rounds, warmup=3)
    a, b = times["zoo"], times["reference"]
    ratio = statistics.median(a) / statistics.median(b)
    summary = (f"forward+backward, batch {BATCH}, memory {MEMORY}x{WORDS} words, 3 hops: memn2n "
               f"{statistics.median(a) * 1e3:.2f} ms, obvious PyTorch {statistics.median(b) * 1e3:.2f} ms; ratio "
               f"{ratio:.2f}. The zoo model embeds each tied matrix once (adjacent tying reuses C^k as A^{{k+1}}) "
               "and also masks padding, which the reference skips.")
    run.record("perf", claim="forward+backward at most 1.2x slower than a plain PyTorch reference",
               verdict="measured", summary=summary, setup=f"CPU, 1 thread, {rounds} interleaved rounds, medians",
               table={"columns": ["implementation", "median ms"],
                      "rows": [["zoo memn2n", round(statistics.median(a) * 1e3, 3)],
                               ["obvious PyTorch", round(statistics.median(b) * 1e3, 3)]]},
               data={"ratio": ratio, "ours_s": a, "reference_s": b})
    print(summary)
