"""A minimal training loop for the reproduction: AdamW on shuffled mini-batches through the model's
own `training_step(batch, step)` (ExcelFormer's Feat-Mix / Hidden-Mix), or the task's loss for a
model without one (the MLP), with early stopping on the validation loss and the best epoch
restored. zoo.train costs about 0.1 s per epoch around the model on the shared 2-core machine;
this loop keeps the update and the early stopping only."""

from __future__ import annotations

import copy

import torch


class LoopStep:
    """The part of zoo.training.StepContext a training_step uses: task, loss, backward, step."""

    def __init__(self, task, optimizer: torch.optim.Optimizer):
        self.task, self.optimizer = task, optimizer

    def loss(self, output, batch):
        return self.task.loss(output, batch)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self, name: str | None = None) -> None:
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


@torch.no_grad()
def evaluate(model, task, split: str) -> dict:
    """Loss, and accuracy (classification) or RMSE (regression, in target std units), on a split."""
    x, y = task.splits()[split].tensors
    model.eval()
    out = model(x.float())
    scores = {"loss": float(task.loss(out, (x, y)))}
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
    step = LoopStep(task, torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay))
    own_step = callable(getattr(model, "training_step", None))
    best, best_state, best_epoch, epoch = float("inf"), None, 0, 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            batch = (x[index], y[index])
            if own_step:
                model.training_step(batch, step)
            else:
                step.backward(step.loss(model(batch[0]), batch))
                step.step()
        val = evaluate(model, task, "val")["loss"]
        if val < best:
            best, best_state, best_epoch = val, copy.deepcopy(model.state_dict()), epoch
        elif epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return {"epochs": epoch, "best_epoch": best_epoch}
