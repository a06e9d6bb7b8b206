"""End-To-End Memory Networks (Sukhbaatar, Szlam, Weston and Fergus, 2015, arXiv:1503.08895).

One hop (paper Sec. 2.1): sentences x_i are embedded twice, as memories m_i = sum_j A x_ij and
outputs c_i = sum_j C x_ij; the question q as u = sum_j B q_j. Then

    p_i = softmax(u^T m_i),   o = sum_i p_i c_i,   u^{k+1} = u^k + o^k          (Eq. 1-2)

and after K hops the answer is a_hat = softmax(W (o^K + u^K)) (Eq. 3). Weight tying (Sec. 2.2):
`adjacent` uses K+1 embedding matrices E_0..E_K with A^k = E_{k-1}, C^k = E_k, B = E_0 and
W^T = E_K; `layer-wise` shares one A and one C across hops, uses a separate B and W, and maps
u^{k+1} = H u^k + o^k. Sentence representation (Sec. 4.1): bag of words, or position encoding
m_i = sum_j l_j * A x_ij with l_kj = (1 - j/J) - (k/d)(1 - 2j/J); temporal encoding adds T_A(i),
T_C(i), learned vectors indexed by how recent memory i is (tied like A and C).

Departures from the paper: empty memory slots (all-padding sentences, at the end of a story) are
masked out of the softmax instead of taking part with only their temporal vector, so padding never
changes an answer; linear start and random noise (training schedules of Sec. 4.2, not
architecture) are not config: linear start is the runtime flag `model.linear_start` (memory
softmaxes removed), switched by the `LinearStart` training callback after a fixed number of epochs
(the paper switches when the validation loss stops falling); random noise is not implemented.
Weights are N(0, 0.1^2) as in the paper.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import MemN2NConfig

__all__ = ["MemN2N", "LinearStart", "position_encoding"]


def position_encoding(sentence_size: int, dim: int, device=None) -> torch.Tensor:
    """(J, d) weights l_kj = (1 - j/J) - (k/d)(1 - 2j/J), with j and k counted from 1 (Sec. 4.1)."""
    j = torch.arange(1, sentence_size + 1, dtype=torch.float32, device=device).unsqueeze(1)
    k = torch.arange(1, dim + 1, dtype=torch.float32, device=device).unsqueeze(0)
    return (1 - j / sentence_size) - (k / dim) * (1 - 2 * j / sentence_size)


class MemN2N(nn.Module):
    """MemN2N answering a one-word answer from a story and a question.

    forward(story, query) -> answer logits (B, vocab_size)
      story: (B, M, S) int64 word ids, M <= memory_size sentences in chronological order; empty
        sentences (all 0) only after the last real one.
      query: (B, S') int64 word ids, 0 = padding.
    """

    def __init__(self, config: MemN2NConfig | None = None):
        super().__init__()
        self.config = config = config or MemN2NConfig()
        v, d, k, m = config.vocab_size, config.embedding_dim, config.hops, config.memory_size
        if config.weight_tying == "adjacent":
            count = k + 1  # E_0 .. E_K
        else:
            count = 2  # one A and one C shared by every hop
            self.query_embedding = nn.Embedding(v, d)
            self.answer = nn.Linear(d, v, bias=False)
            self.hop_map = nn.Linear(d, d, bias=False)  # H
        self.embeddings = nn.ModuleList(nn.Embedding(v, d) for _ in range(count))
        if config.temporal_encoding:
            self.temporal = nn.ParameterList(nn.Parameter(torch.empty(m, d)) for _ in range(count))
        for p in self.parameters():
            nn.init.normal_(p, 0.0, config.init_std)
        self.linear_start = False  # a training phase, not architecture: see `LinearStart`

    def _memory_matrices(self, hop: int) -> tuple[int, int]:
        """Indices of (A^k, C^k) among self.embeddings for hop k (0-based)."""
        return (hop, hop + 1) if self.config.weight_tying == "adjacent" else (0, 1)

    def _embed(self, words: torch.Tensor, table: nn.Embedding) -> torch.Tensor:
        """Sum over the last (word) axis, position-encoded or bag of words; padding adds nothing."""
        vectors = table(words) * (words != 0).unsqueeze(-1)
        if self.config.position_encoding:
            vectors = vectors * position_encoding(words.shape[-1], vectors.shape[-1], words.device)
        return vectors.sum(-2)

    def _check(self, story: torch.Tensor, query: torch.Tensor) -> None:
        if story.dim() != 3 or query.dim() != 2 or story.shape[0] != query.shape[0]:
            raise ValueError(
                "MemN2N expects story of shape (batch, sentences, words) and query of shape (batch, words), "
                f"got {tuple(story.shape)} and {tuple(query.shape)}")
        if story.dtype != torch.long or query.dtype != torch.long:
            raise TypeError(f"MemN2N expects int64 word ids, got story {story.dtype} and query {query.dtype}")
        if story.shape[1] > self.config.memory_size:
            raise ValueError(f"story has {story.shape[1]} sentences but memory_size is {self.config.memory_size}; "
                             "keep the most recent ones")
        # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
        if torch.compiler.is_compiling():
            return
        top = max(int(story.max()), int(query.max())) if story.numel() else int(query.max())
        if min(int(story.min()), int(query.min())) < 0 or top >= self.config.vocab_size:
            raise ValueError(f"word ids must be in [0, {self.config.vocab_size}), got values up to {top}")

    def attention(self, story: torch.Tensor, query: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Answer logits and the memory attention p^k (B, M) of every hop."""
        self._check(story, query)
        cfg = self.config
        present = (story != 0).any(-1)  # (B, M) real sentences
        recency = (present.sum(1, keepdim=True) - 1 - torch.arange(story.shape[1], device=story.device)).clamp_min(0)
        first = self.embeddings[0] if cfg.weight_tying == "adjacent" else self.query_embedding
        u = self._embed(query, first)  # (B, d)
        memories: dict[int, torch.Tensor] = {}

        def memory(index: int) -> torch.Tensor:
            # adjacent tying reuses C^k as A^{k+1}: embed the story once per matrix
            if index not in memories:
                memories[index] = self._embed(story, self.embeddings[index])
                if cfg.temporal_encoding:
                    memories[index] = memories[index] + self.temporal[index][recency]
            return memories[index]

        probabilities = []
        for hop in range(cfg.hops):
            a, c = self._memory_matrices(hop)
            m, out = memory(a), memory(c)
            scores = (m @ u.unsqueeze(-1)).squeeze(-1)
            if self.linear_start:  # Sec. 4.2: no softmax in the memory layers early in training
                p = scores.masked_fill(~present, 0.0)
            else:
                p = torch.softmax(scores.masked_fill(~present, float("-inf")), dim=-1).nan_to_num(0.0)
            o = (p.unsqueeze(-1) * out).sum(1)
            u = (self.hop_map(u) if cfg.weight_tying == "layer-wise" else u) + o
            probabilities.append(p)
        if cfg.weight_tying == "adjacent":
            logits = u @ self.embeddings[-1].weight.T  # W^T = C^K
        else:
            logits = self.answer(u)
        return logits, probabilities

    def forward(self, story: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return self.attention(story, query)[0]


class LinearStart:
    """zoo.train callback for the paper's linear start (Sec. 4.2): the memory softmaxes are removed
    for the first `epochs` epochs, then put back.

        zoo.train(model, task, callbacks=[LinearStart(20)], ...)
    """

    def __init__(self, epochs: int):
        if epochs < 1:
            raise ValueError(f"LinearStart needs epochs >= 1, got {epochs}")
        self.epochs = epochs

    def zoo_train_start(self, run) -> None:
        run.model.linear_start = run.epoch < self.epochs

    def zoo_train_epoch_end(self, run, metrics: dict) -> None:
        if run.epoch + 1 >= self.epochs:
            run.model.linear_start = False
