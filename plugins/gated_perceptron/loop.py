"""A minimal training loop for the reproduction: Adam on shuffled mini-batches, calling the model's
own `training_step(batch, step)` exactly as zoo.train does. zoo.train costs about 0.1 s per epoch
around the model on the shared 2-core machine, more than this model's whole epoch, and the
reproduction trains 36 models; this loop keeps only the update."""

from __future__ import annotations

import torch


class LoopStep:
    """The part of zoo.training.StepContext a training_step uses: loss, backward, step."""

    def __init__(self, task, optimizer: torch.optim.Optimizer):
        self.task, self.optimizer = task, optimizer

    def loss(self, output, batch):
        return self.task.loss(output, batch)

    def backward(self, loss: torch.Tensor) -> None:
        loss.backward()

    def step(self, name: str | None = None) -> None:
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)


def fit(model, task, *, epochs: int, batch_size: int, lr: float, seed: int) -> None:
    """Train `model` in place on the task's training split (Adam, reshuffled every epoch)."""
    x, y = task.splits()["train"].tensors
    generator = torch.Generator().manual_seed(seed)
    step = LoopStep(task, torch.optim.Adam(model.parameters(), lr=lr))
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), batch_size):
            index = order[start:start + batch_size]
            model.training_step((x[index], y[index]), step)
    model.eval()


@torch.no_grad()
def accuracy(model, task, split: str = "test") -> float:
    x, y = task.splits()[split].tensors
    return float((model(x).argmax(-1) == y).float().mean())
