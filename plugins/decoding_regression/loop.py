"""A minimal training loop for the reproduction: Adam on shuffled mini-batches through the model's
own `training_step(batch, step)`, early stopping on the validation value of the model's own
training objective (token cross entropy for the decoder, MSE for the MSE head), best epoch
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
def objective(model, task, split: str) -> float:
    """The model's training objective on a split: token cross entropy (decoder) or MSE (MSE head)."""
    x, y = task.splits()[split].tensors
    model.eval()
    if model.config.head == "mse":
        return float((model(x) - y).square().mean())
    tokens = model.tokenizer.encode(y[:, 0])
    return float(-model.log_prob_tokens(x, tokens).mean() / model.tokenizer.length)


def fit(model, task, *, epochs: int, batch_size: int, lr: float, patience: int, seed: int) -> dict:
    """Train in place; returns {"epochs": ran, "best_epoch": restored}."""
    x, y = task.splits()["train"].tensors
    generator = torch.Generator().manual_seed(seed)
    step = LoopStep(task, torch.optim.Adam(model.parameters(), lr=lr))
    best, best_state, best_epoch, epoch = float("inf"), None, 0, 0
    for epoch in range(1, epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            model.training_step((x[index], y[index]), step)
        val = objective(model, task, "val")
        if val < best:
            best, best_state, best_epoch = val, copy.deepcopy(model.state_dict()), epoch
        elif epoch - best_epoch >= patience:
            break
    model.load_state_dict(best_state)
    model.eval()
    return {"epochs": epoch, "best_epoch": best_epoch}
