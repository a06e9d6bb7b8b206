"""Shared training protocol of the KAN reproductions (paper arXiv:2404.19756, Sec. 2.4 and 3).

The paper trains with LBFGS on the full training set, refits the spline grids to the activations
during the first steps of each grid, and extends the grid (G = 3, 5, 10, 20, ...) by least squares
every 200 steps. `train_kan` follows that schedule with fewer steps per grid so that a run fits this
machine's budget; `train_mlp` gives the MLP baseline the same optimiser. Both train through the
zoo's uniform loop, `zoo.train` (optimizer="lbfgs": one full-batch LBFGS step of up to 20
iterations, strong-Wolfe line search, history 10, per epoch); grid extension is `KAN.refine`
between `zoo.train` calls and the grid updates are a callback (`GridUpdates`). The symbolic-regression
script trains with the sparsity penalty through the same `fit`, wrapping the KAN in `SparsityTraining`.
"""

from __future__ import annotations

import math
import time

import torch
from torch import nn

from .model import KAN


def task_arrays(name: str) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{"train": (x, y), "test": (x, y)} in float64 from a zoo task."""
    import zoo

    splits = zoo.get_task(name).splits()
    return {k: tuple(t.double() for t in splits[k].tensors[:2]) for k in ("train", "test")}


def rmse(model, x: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(((model(x) - y) ** 2).mean().sqrt())


class GridUpdates:
    """zoo.train callback: the paper's grid updates, `model.update_grid(x)` on the training inputs
    before step 0 and after every `every`-th step while fewer than `until` steps are done."""

    def __init__(self, model: KAN, x: torch.Tensor, every: int, until: int):
        self.model, self.x, self.every, self.until = model, x, every, until

    def zoo_train_start(self, run):
        if self.until > 0:
            self.model.update_grid(self.x)

    def zoo_train_batch_end(self, run, logs):
        if run.global_step < self.until and run.global_step % self.every == 0:
            self.model.update_grid(self.x)


def float64_mse(output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return ((output - target) ** 2).mean()


def fit(model, data: dict, steps: int, seed: int, callbacks=(), out_dir=None) -> dict:
    """`steps` full-batch LBFGS steps through zoo.train; the final train and test metrics. The task
    keeps the data and the loss in float64 (the zoo's defaults are float32), as the paper's fits.
    `out_dir`: where zoo.train writes the run (metrics and curves), or None for no files."""
    import zoo
    from zoo.tasks import ArraySplit, ArrayTask

    splits = {name: ArraySplit(x, y, float_dtype=torch.float64) for name, (x, y) in data.items()}
    task = ArrayTask("kan-repro", "regression", splits, loss=float64_mse)
    result = zoo.train(model, task, optimizer="lbfgs", lr=1.0, batch_size=len(data["train"][0]), epochs=steps,
                       shuffle=False, seed=seed, device="cpu", eval_splits=[],
                       final_splits=[split for split in ("train", "val", "test") if split in data],
                       callbacks=callbacks, progress=False, out_dir=out_dir)
    return result.final


def train_kan(width: list[int], data: dict, grids: list[int], steps_per_grid: int, seed: int = 0,
              run_dir=None) -> tuple[KAN, list[dict]]:
    """The paper's grid-extension schedule; returns the final model and one record per grid.
    `run_dir`: where zoo.train writes the run of the last grid (for the card of a kept model)."""
    import zoo

    torch.manual_seed(seed)
    x = data["train"][0]
    # built by zoo.create (the same initial weights as KAN(config)) so that the result can be saved
    model = zoo.create("kan", width=width, grid=grids[0], k=3).double()
    history = []
    for i, grid in enumerate(grids):
        if i > 0:
            model = model.refine(grid, x)
        updates = GridUpdates(model, x, every=max(1, steps_per_grid // 5), until=steps_per_grid // 2 if i == 0 else 0)
        start = time.perf_counter()
        final = fit(model, data, steps_per_grid, seed, callbacks=[updates],
                    out_dir=run_dir if i == len(grids) - 1 else None)
        params = sum(p.numel() for p in model.parameters())
        history.append({"grid": grid, "params": params, "train_rmse": final["train_rmse"],
                        "test_rmse": final["test_rmse"], "seconds": time.perf_counter() - start})
        if "val_rmse" in final:
            history[-1]["val_rmse"] = final["val_rmse"]
        print(f"  G={grid:4d} params={params:6d} train {history[-1]['train_rmse']:.3e} "
              f"test {history[-1]['test_rmse']:.3e}", flush=True)
    return model, history


def mlp(widths: list[int], activation=nn.SiLU) -> nn.Module:
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), activation()]
    return nn.Sequential(*layers[:-1]).double()


def train_mlp(widths: list[int], data: dict, steps: int, seed: int = 0) -> tuple[nn.Module, dict]:
    torch.manual_seed(seed)
    model = mlp(widths)
    final = fit(model, data, steps, seed)
    params = sum(p.numel() for p in model.parameters())
    return model, {"params": params, "train_rmse": final["train_rmse"], "test_rmse": final["test_rmse"]}


def fit_exponent(points: list[tuple[float, float]]) -> float:
    """Slope of log(rmse) against log(x) by least squares."""
    xs = torch.tensor([math.log(p) for p, _ in points], dtype=torch.float64)
    ys = torch.tensor([math.log(r) for _, r in points], dtype=torch.float64)
    design = torch.stack([xs, torch.ones_like(xs)], 1)
    return float(torch.linalg.lstsq(design, ys[:, None]).solution[0])
