"""A minimal training loop for the reproduction: AdamW on shuffled mini-batches, early stopping on
the validation loss with the best epoch restored. zoo.train costs about 0.1 s per epoch around the
model on the shared 2-core machine, as much as these models' epochs, and the reproduction trains
36 models; this loop keeps the update and the early stopping only. Models are trained on the
task's own loss (cross entropy or MSE)."""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F


def task_loss(task, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return F.cross_entropy(output, target) if task.kind == "classification" else F.mse_loss(output, target.float())


@torch.no_grad()
def evaluate(model, task, split: str) -> dict:
    """Loss, and accuracy (classification) or RMSE (regression, in target std units), on a split."""
    x, y = task.splits()[split].tensors
    model.eval()
    out = model(x.float())
    scores = {"loss": float(task_loss(task, out, y))}
    if task.kind == "classification":
        scores["accuracy"] = float((out.argmax(-1) == y).float().mean())
    else:
        scores["rmse"] = float((out - y).square().mean().sqrt())
    return scores


def fit(model, task, *, epochs: int, batch_size: int, lr: float, weight_decay: float, patience: int,
        seed: int) -> dict:
    """Train in place; returns {"epochs": ran, "best_epoch": restored}."""
    x, y = task.splits()["train"].tensors
    x = x.float()
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
    best, best_state, best_epoch, epoch = float("inf"), None, 0, 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            loss = task_loss(task, model(x[index]), y[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        val = evaluate(model, task, "val")["loss"]
        if val < best:
            best, best_state, best_epoch = val, copy.deepcopy(model.state_dict()), epoch
        elif epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return {"epochs": epoch, "best_epoch": best_epoch}
