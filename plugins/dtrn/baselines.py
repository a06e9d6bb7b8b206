"""The multi-task baselines of DTRN's reproduction, with DTRN's inputs and the same embedding and interest
blocks so that only the multi-task structure differs: MMoE (Ma et al., KDD 2018) and PLE (Tang et al., RecSys
2020; one extraction layer, i.e. its CGC network). Both share one bottom representation among the tasks: the
field embeddings and one target-attention interest per behaviour type, flattened. Not catalog models.

forward(ids (batch, fields), histories (batch, types, length)) -> (batch, tasks) logits."""

from __future__ import annotations

import torch
from torch import nn

from .layers import InputEmbedding, TargetAttention, mlp

__all__ = ["SharedBottomInput", "MMoE", "PLE"]


class SharedBottomInput(nn.Module):
    """[e_1, ..., e_F, interest_1, ..., interest_K] flattened: the one bottom representation every task shares."""

    def __init__(self, cardinalities: list[int], item_field: int, history_types: int, dim: int):
        super().__init__()
        self.item_field = item_field
        self.embedding = InputEmbedding(cardinalities, item_field, history_types, dim)
        self.interest = nn.ModuleList(TargetAttention(dim) for _ in range(history_types))
        self.width = (len(cardinalities) + history_types) * dim

    def forward(self, ids: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        fields, sequences = self.embedding(ids, histories)
        candidate = fields[:, self.item_field]
        interests = torch.stack([extract(candidate, sequences[:, k]) for k, extract in enumerate(self.interest)], 1)
        return torch.cat([fields, interests], 1).flatten(1)


def _expert(width: int, hidden: list[int]) -> tuple[nn.Module, int]:
    return mlp(width, hidden)


def _towers(tasks: int, width: int, hidden: list[int]) -> nn.ModuleList:
    towers = nn.ModuleList()
    for _ in range(tasks):
        body, out = mlp(width, hidden)
        towers.append(nn.Sequential(body, nn.Linear(out, 1)))
    return towers


class MMoE(nn.Module):
    """y_t = tower_t(sum_e g_t(x)_e f_e(x)), g_t(x) = softmax(W_t x): shared experts, one gate per task."""

    def __init__(self, cardinalities: list[int], item_field: int = 1, history_types: int = 2, tasks: int = 2,
                 dim: int = 8, experts: int = 4, expert_hidden: list[int] = (64, 32), tower_hidden: list[int] = (32,)):
        super().__init__()
        self.bottom = SharedBottomInput(cardinalities, item_field, history_types, dim)
        built = [_expert(self.bottom.width, list(expert_hidden)) for _ in range(experts)]
        self.experts = nn.ModuleList(e for e, _ in built)
        self.gates = nn.ModuleList(nn.Linear(self.bottom.width, experts) for _ in range(tasks))
        self.towers = _towers(tasks, built[0][1], list(tower_hidden))

    def forward(self, ids: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        x = self.bottom(ids, histories)
        outputs = torch.stack([e(x) for e in self.experts], 1)                  # (batch, experts, width)
        logits = [tower(torch.einsum("be,bew->bw", gate(x).softmax(-1), outputs))
                  for gate, tower in zip(self.gates, self.towers)]
        return torch.cat(logits, -1)


class PLE(nn.Module):
    """CGC, PLE's extraction layer: shared experts plus each task's own experts; task t's gate mixes its own and
    the shared experts' outputs, y_t = tower_t(sum_e g_t(x)_e f_e(x))."""

    def __init__(self, cardinalities: list[int], item_field: int = 1, history_types: int = 2, tasks: int = 2,
                 dim: int = 8, shared_experts: int = 2, task_experts: int = 1, expert_hidden: list[int] = (64, 32),
                 tower_hidden: list[int] = (32,)):
        super().__init__()
        self.bottom = SharedBottomInput(cardinalities, item_field, history_types, dim)
        width = self.bottom.width

        def experts(n: int) -> nn.ModuleList:
            return nn.ModuleList(_expert(width, list(expert_hidden))[0] for _ in range(n))

        self.shared = experts(shared_experts)
        self.specific = nn.ModuleList(experts(task_experts) for _ in range(tasks))
        self.gates = nn.ModuleList(nn.Linear(width, shared_experts + task_experts) for _ in range(tasks))
        self.towers = _towers(tasks, list(expert_hidden)[-1], list(tower_hidden))

    def forward(self, ids: torch.Tensor, histories: torch.Tensor) -> torch.Tensor:
        x = self.bottom(ids, histories)
        shared = [e(x) for e in self.shared]
        logits = []
        for own, gate, tower in zip(self.specific, self.gates, self.towers):
            outputs = torch.stack([e(x) for e in own] + shared, 1)
            logits.append(tower(torch.einsum("be,bew->bw", gate(x).softmax(-1), outputs)))
        return torch.cat(logits, -1)
