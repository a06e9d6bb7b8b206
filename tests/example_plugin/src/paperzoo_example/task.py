"""The example task: regress y = x^2 from x, with generated, fixed splits."""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

from zoo.tasks import Task, TaskInfo


class ParabolaTask(Task):
    name = "example/parabola"
    kind = "regression"
    info = TaskInfo(kind="regression", input_shape=(1,), output_dim=1)

    def splits(self):
        generator = torch.Generator().manual_seed(0)
        x = torch.rand(512, 1, generator=generator) * 2 - 1
        data = TensorDataset(x, x**2)
        return {"train": torch.utils.data.Subset(data, range(256)),
                "test": torch.utils.data.Subset(data, range(256, 512))}

    def loss(self, output, batch):
        return torch.nn.functional.mse_loss(output, self.targets(batch))
