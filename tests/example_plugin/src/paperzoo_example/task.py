"""The example task: regress y = x^2 from x on [-1, 1], with generated, fixed splits."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from zoo.errors import ConfigError
from zoo.tasks import Task, TaskInfo


class ParabolaTask(Task):
    name = "example/parabola"
    kind = "regression"
    info = TaskInfo(kind="regression", input_shape=(1,), output_dim=1)

    def __init__(self, n_train: int = 256, seed: int = 0):
        if not 1 <= n_train <= 100_000:  # a bad option is the user's error, named with what is allowed
            raise ConfigError(f"example/parabola: n_train={n_train!r}, expected 1 to 100000 points")
        self.n_train, self.seed = n_train, seed

    def splits(self):
        generator = torch.Generator().manual_seed(self.seed)
        x = torch.rand(self.n_train + 256, 1, generator=generator) * 2 - 1
        data = TensorDataset(x, x**2)
        return {"train": torch.utils.data.Subset(data, range(self.n_train)),
                "test": torch.utils.data.Subset(data, range(self.n_train, self.n_train + 256))}

    def loss(self, output, batch):
        return torch.nn.functional.mse_loss(output, self.targets(batch))
