"""The Memory Network of Weston, Chopra and Bordes (2014, arXiv:1410.3916): I, G, O and R
components, strongly supervised with the supporting facts.

- I (input feature map): a sentence is a bag of words, Phi(x) its word counts (padding id 0 dropped).
- G (generalization): each sentence is written to the next free slot, so memory i is the i-th
  sentence of the story (the task hands the stored memory in slot order).
- O (output, Eq. 2-3): k hops; o_1 = argmax_i s_O(x, m_i), o_2 = argmax_i s_O([x, m_o1], m_i), ...
  with s_O(x, y) = Phi_x(x)^T U_O^T U_O Phi_y(y) (Eq. 4). U_O holds three embeddings of every word,
  as in the paper (D = 3|W|): one for words of the question x, one for words of the supporting
  memories already found (both Phi_x) and one for a candidate memory (Phi_y).
- R (response, Eq. 5): the single-word answer r = argmax_w s_R([x, m_o1, ..., m_ok], w), with s_R
  built like s_O from its own U_R.
- Write time (Sec. 3.4): s_Ot(x, y, y') = Phi_x(x)^T U_O^T U_O (Phi_y(y) - Phi_y(y') + Phi_t(x, y, y'))
  with three time features (x older than y, x older than y', y older than y'); O keeps a running
  winner over the memories, replacing it by memory i when s_Ot(x, m_i, winner) > 0.
- Training (Eq. 6-8, and their write-time form): the margin ranking loss with the true supporting
  facts f_1..f_k and answer r, every other memory and every other word being a negative, trained by
  SGD; the hops are teacher-forced (hop h is conditioned on the true f_1..f_{h-1}).

Where this code departs from the paper, and why:
- The time features are signs, +1 / 0 / -1, not the paper's 0/1 indicators. With 0/1 indicators
  the pair (y newer than y') has every feature 0, so s_Ot(x, y, y') reduces to the words of y and
  y' alone and no weight can make "the newest of two sentences with the same words" win both hinge
  terms of the loss; with signs the same three learned directions do it (-1 for "not older", 0
  for the same time).
- The age of x is the question's (after every memory) at the first hop and, from the second hop on,
  that of the last supporting memory found (the paper does not say which time x = [x, m_o1] has).
- The sums over negatives are computed in full, not sampled, and SGD runs on minibatches of
  stories (the loss averaged over them) instead of one example at a time.
- A task with fewer supporting facts than hops supervises the extra hops with its last fact
  (retrieving it again); with more facts than hops, only the first k are used.
"""

from __future__ import annotations

import torch
from torch import nn

from .config import MemNNConfig

__all__ = ["MemNN", "bag_of_words", "hop_fact"]


def bag_of_words(table: nn.Embedding, ids: torch.Tensor) -> torch.Tensor:
    """U Phi(x): the sum of the embeddings of the words in `ids` (..., S), padding (id 0) left out."""
    return (table(ids) * (ids != 0).unsqueeze(-1)).sum(-2)


def hop_fact(facts: torch.Tensor, hop: int) -> torch.Tensor:
    """The supporting fact that supervises hop `hop` (0-based): the hop-th, or the last one there is."""
    return facts[:, min(hop, facts.shape[1] - 1)]


class MemNN(nn.Module):
    """A Memory Network answering a one-word answer from a story and a question.

    forward(story, query) -> s_R of every word (B, vocab_size), after O retrieved k memories by argmax.
      story: (B, M, S) int64 word ids, M <= memory_size sentences in the order they were written;
        empty sentences (all 0) are empty slots and never retrieved.
      query: (B, S') int64 word ids, 0 = padding.
    retrieve(story, query) -> (B, k) the memories O chose.
    ranking_loss(story, query, answer, facts) -> the margin ranking loss (Eq. 6-8), facts (B, F)
      int64 memory indices of the supporting facts in chaining order (-1: not in memory).
    """

    def __init__(self, config: MemNNConfig | None = None):
        super().__init__()
        self.config = config = config or MemNNConfig()
        v, n = config.vocab_size, config.embedding_dim
        # U_O = [question words | supporting-memory words | candidate words] (+ 3 time features)
        self.o_query, self.o_support, self.o_memory = nn.Embedding(v, n), nn.Embedding(v, n), nn.Embedding(v, n)
        if config.hops == 1:  # o_support reads memories retrieved by earlier hops: one hop has none
            self.zoo_gradient_exempt = {"o_support.*": "with one hop no retrieved memory is read back"}
        self.o_time = nn.Parameter(torch.zeros(3, n)) if config.time_features else None
        # U_R = [question words | supporting-memory words | answer words]
        self.r_query, self.r_support, self.r_answer = nn.Embedding(v, n), nn.Embedding(v, n), nn.Embedding(v, n)
        for p in self.parameters():
            nn.init.normal_(p, 0.0, config.init_std)

    # --- input checks -------------------------------------------------------------------------

    def _check(self, story: torch.Tensor, query: torch.Tensor) -> None:
        for name, t, dims in (("story", story, 3), ("query", query, 2)):
            if not isinstance(t, torch.Tensor):
                raise TypeError(f"MemNN: {name} must be a torch.Tensor of word ids, got {type(t).__name__}")
            if t.dtype != torch.int64:
                raise TypeError(f"MemNN: {name} must hold int64 word ids, got {t.dtype}")
            if t.dim() != dims:
                shape = "(batch, sentences, words)" if dims == 3 else "(batch, words)"
                raise ValueError(f"MemNN: {name} must be {shape}, got shape {tuple(t.shape)}")
        if story.shape[0] != query.shape[0]:
            raise ValueError(f"MemNN: story and query batch sizes differ: {story.shape[0]} vs {query.shape[0]}")
        if story.shape[1] > self.config.memory_size:
            raise ValueError(f"MemNN: story has {story.shape[1]} sentences, memory_size is {self.config.memory_size}")
        v = self.config.vocab_size
        # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
        for name, t in (("story", story), ("query", query)):
            if not torch.compiler.is_compiling() and t.numel() and (int(t.min()) < 0 or int(t.max()) >= v):
                raise ValueError(f"MemNN: {name} word ids must lie in [0, {v}), got [{int(t.min())}, {int(t.max())}]")

    # --- O: scoring and retrieving memories ---------------------------------------------------

    def pair_scores(self, context: torch.Tensor, memories: torch.Tensor, x_time: torch.Tensor) -> torch.Tensor:
        """(B, M, M) s_Ot(x, m_i, m_j) for every pair (Sec. 3.4); without time features
        s_O(x, m_i) - s_O(x, m_j) (Eq. 4), which ranks the memories exactly as s_O does.

        context: U_O Phi_x(x) (B, n); memories: U_O Phi_y(m_i) (B, M, n); x_time: (B,) write time of x.
        """
        single = torch.einsum("bn,bmn->bm", context, memories)  # s_O(x, m_i)
        scores = single.unsqueeze(2) - single.unsqueeze(1)
        if self.o_time is None:
            return scores
        c_xy, c_xy2, c_yy2 = (context @ self.o_time.T).unbind(-1)  # the 3 time columns of U_O, seen from x
        times = torch.arange(memories.shape[1], device=memories.device, dtype=context.dtype)
        x_older = torch.sign(times.unsqueeze(0) - x_time.unsqueeze(1))          # (B, M): x older than m_i
        y_older = torch.sign(times.unsqueeze(0) - times.unsqueeze(1))           # (M, M): m_i older than m_j
        return (scores + c_xy[:, None, None] * x_older.unsqueeze(2) + c_xy2[:, None, None] * x_older.unsqueeze(1)
                + c_yy2[:, None, None] * y_older)

    def select(self, scores: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """(B,) the memory O outputs: the argmax of s_O (Eq. 2), or with time features the running
        winner of the loop of Sec. 3.4 (memory i replaces the winner when s_Ot(x, m_i, winner) > 0)."""
        if self.o_time is None:
            return scores[:, :, 0].masked_fill(~valid, float("-inf")).argmax(1)  # s_O(x,m_i) - s_O(x,m_0)
        rows = torch.arange(scores.shape[0], device=scores.device)
        winner = torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)
        for i in range(1, scores.shape[1]):
            better = valid[:, i] & (scores[rows, i, winner] > 0)
            winner = torch.where(better, torch.full_like(winner, i), winner)
        return winner

    def _memories(self, story: torch.Tensor):
        return bag_of_words(self.o_memory, story), story.ne(0).any(-1)

    def _hops(self, story: torch.Tensor, query: torch.Tensor, facts: torch.Tensor | None = None):
        """Run O for k hops; yields (hop, pair scores, valid, chosen memory). With `facts`, hop h
        is conditioned on the true facts before it (teacher forcing, as in training)."""
        memories, valid = self._memories(story)
        context = bag_of_words(self.o_query, query)
        x_time = torch.full((story.shape[0],), float(story.shape[1]), device=story.device)  # the question: newest
        rows = torch.arange(story.shape[0], device=story.device)
        for hop in range(self.config.hops):
            scores = self.pair_scores(context, memories, x_time)
            chosen = self.select(scores, valid) if facts is None else hop_fact(facts, hop).clamp(min=0)
            yield hop, scores, valid, chosen
            context = context + bag_of_words(self.o_support, story[rows, chosen])  # x <- [x, m_o]
            x_time = chosen.to(x_time.dtype)

    def retrieve(self, story: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """(B, k) indices o_1..o_k of the memories O retrieves (Eq. 2-3)."""
        self._check(story, query)
        return torch.stack([chosen for *_, chosen in self._hops(story, query)], 1)

    # --- R: the answer ------------------------------------------------------------------------

    def respond(self, story: torch.Tensor, query: torch.Tensor, chosen: torch.Tensor) -> torch.Tensor:
        """(B, V) s_R([x, m_o1, ..., m_ok], w) for every word w (Eq. 5)."""
        rows = torch.arange(story.shape[0], device=story.device).unsqueeze(1)
        context = bag_of_words(self.r_query, query) + bag_of_words(self.r_support, story[rows, chosen]).sum(1)
        return context @ self.r_answer.weight.T

    def forward(self, story: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        return self.respond(story, query, self.retrieve(story, query))

    # --- training: the margin ranking loss ----------------------------------------------------

    def ranking_loss(self, story, query, answer, facts) -> torch.Tensor:
        """Eq. 6-8 (and their write-time form, Sec. 3.4) summed over negatives, averaged over the batch."""
        self._check(story, query)
        if not (isinstance(facts, torch.Tensor) and facts.dtype == torch.int64 and facts.dim() == 2
                and facts.shape[0] == story.shape[0] and facts.shape[1] >= 1):
            raise ValueError(f"MemNN: facts must be (batch, facts) int64 memory indices, got "
                             f"{getattr(facts, 'shape', facts)}")
        gamma = self.config.margin
        known = (facts >= 0).all(1).float()  # a fact cut from memory leaves O unsupervised on that story
        total = torch.zeros((), device=story.device)
        chosen_all = []
        for hop, scores, valid, chosen in self._hops(story, query, facts):
            rows = torch.arange(story.shape[0], device=story.device)
            negatives = valid.clone()
            negatives[rows, chosen] = False
            if self.o_time is None:  # Eq. 6 / 7: gamma - s_O(x, f) + s_O(x, f_bar)
                hinge = (gamma - scores[rows, chosen, :]).clamp(min=0)
            else:  # gamma - s_Ot(x, f, f_bar) and gamma + s_Ot(x, f_bar, f)
                hinge = (gamma - scores[rows, chosen, :]).clamp(min=0) + (gamma + scores[rows, :, chosen]).clamp(min=0)
            total = total + ((hinge * negatives).sum(1) * known).sum()
            chosen_all.append(chosen)
        words = self.respond(story, query, torch.stack(chosen_all, 1))  # Eq. 8: gamma - s_R(r) + s_R(r_bar)
        right = words.gather(1, answer.unsqueeze(1))
        hinge = (gamma - right + words).clamp(min=0)
        hinge = hinge.scatter(1, answer.unsqueeze(1), 0.0)
        return (total + hinge.sum()) / story.shape[0]

    def training_step(self, batch, step) -> dict:
        """One SGD step on the margin ranking loss of a minibatch (story, query, answer, facts)."""
        story, query, answer, facts = batch[:4]
        loss = self.ranking_loss(story, query, answer, facts)
        step.zero_grad()
        step.backward(loss)
        step.step()
        return {"loss": float(loss.detach())}

    def configure_optimizers(self, lr: float):
        return torch.optim.SGD(self.parameters(), lr=lr)  # the paper trains with plain SGD
