"""The arithmetic dataset task of Madsen & Johansen (2020, Sec. 4.1), generated in code: an input
vector x of 100 values drawn from U[1, 2] (training, interpolation) or U[2, 6] (extrapolation); a is the
sum of one subset of x, b of another that overlaps it, and the target is a + b, a - b or a * b."""

from __future__ import annotations

import itertools

import numpy as np
import torch

from zoo.tasks import ArraySplit, Task, TaskInfo, standard_metrics

__all__ = ["ArithmeticTask", "OPERATIONS", "subset_positions"]

OPERATIONS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b}
PERTURBATION = 1e-5  # float32-scale error of a "nearly perfect" weight, for the success threshold


def subset_positions(input_size: int, subset_ratio: float, overlap_ratio: float, seed: int) -> tuple[slice, slice]:
    """Where a and b are summed: two runs of round(subset_ratio * input_size) elements, the second
    starting so that overlap_ratio of the first is shared; the first's place is drawn from `seed`."""
    size = max(1, round(subset_ratio * input_size))
    shift = size - round(overlap_ratio * size)
    span = size + shift
    if span > input_size:
        raise ValueError(f"subsets of {size} elements overlapping by {overlap_ratio} need {span} inputs, "
                         f"got input_size {input_size}")
    start = int(np.random.default_rng(seed).integers(0, input_size - span + 1))
    return slice(start, start + size), slice(start + shift, start + shift + size)


class ArithmeticTask(Task):
    """`nau-nmu/arithmetic-{add,sub,mul}`: regress op(a, b) from x (Sec. 4.1).

    Options: seed (subset places and samples), input_size 100, subset_ratio 0.25, overlap_ratio 0.5,
    interpolation (1, 2) and extrapolation (2, 6) ranges, train_size, test_size. Splits: train and val
    from the interpolation range, test from the extrapolation range. `sample` draws fresh batches, as
    the paper does at every iteration.
    """

    kind = "regression"

    def __init__(self, operation: str, seed: int = 0, input_size: int = 100, subset_ratio: float = 0.25,
                 overlap_ratio: float = 0.5, interpolation: tuple[float, float] = (1.0, 2.0),
                 extrapolation: tuple[float, float] = (2.0, 6.0), train_size: int = 12800, test_size: int = 10000):
        if operation not in OPERATIONS:
            raise ValueError(f"operation must be one of {sorted(OPERATIONS)}, got {operation!r}")
        for name, (low, high) in (("interpolation", interpolation), ("extrapolation", extrapolation)):
            if not low < high:
                raise ValueError(f"{name} range must be (low, high) with low < high, got {(low, high)}")
        if train_size < 1 or test_size < 1:
            raise ValueError(f"train_size and test_size must be >= 1, got {train_size}, {test_size}")
        self.name = f"nau-nmu/arithmetic-{operation}"
        self.operation, self.seed, self.input_size = operation, seed, input_size
        self.interpolation, self.extrapolation = tuple(interpolation), tuple(extrapolation)
        self.train_size, self.test_size = train_size, test_size
        self.a_slice, self.b_slice = subset_positions(input_size, subset_ratio, overlap_ratio, seed)
        self.info = TaskInfo(kind=self.kind, input_shape=(input_size,), output_dim=1,
                             extra={"operation": operation, "a": (self.a_slice.start, self.a_slice.stop),
                                    "b": (self.b_slice.start, self.b_slice.stop)})
        self._splits = None

    def target(self, x: torch.Tensor) -> torch.Tensor:
        """op(a, b) of each row of x, shape (n, 1)."""
        a, b = x[:, self.a_slice].sum(1), x[:, self.b_slice].sum(1)
        return OPERATIONS[self.operation](a, b).unsqueeze(1)

    def sample(self, n: int, value_range: tuple[float, float], generator: torch.Generator) -> tuple:
        """n fresh (x, op(a, b)) pairs with x uniform on value_range."""
        low, high = value_range
        x = torch.rand(n, self.input_size, generator=generator) * (high - low) + low
        return x, self.target(x)

    def exact_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The solution: first-layer rows selecting a and b; second-layer weights of the operation
        (NAU: [1, 1] or [1, -1]; NMU: [1, 1])."""
        first = torch.zeros(2, self.input_size)
        first[0, self.a_slice], first[1, self.b_slice] = 1.0, 1.0
        second = torch.tensor([[1.0, -1.0 if self.operation == "sub" else 1.0]])
        return first, second

    def success_threshold(self, x: torch.Tensor, perturbation: float = PERTURBATION) -> float:
        """MSE on x of a nearly perfect solution: every first-layer weight off by `perturbation` (a
        float32-scale error), in the worse of the four sign combinations for a and b. A model whose
        extrapolation MSE is below it counts as solved (our reading of the paper's criterion)."""
        x = x.double()
        exact = self.target(x).squeeze(1)
        a, b = x[:, self.a_slice].sum(1), x[:, self.b_slice].sum(1)
        off = perturbation * x.sum(1)
        op = OPERATIONS[self.operation]
        return max(float(((op(a + sa * off, b + sb * off) - exact) ** 2).mean())
                   for sa, sb in itertools.product((1.0, -1.0), repeat=2))

    def splits(self) -> dict:
        if self._splits is None:
            g = torch.Generator().manual_seed(self.seed)
            self._splits = {"train": ArraySplit(*self.sample(self.train_size, self.interpolation, g)),
                            "val": ArraySplit(*self.sample(self.test_size, self.interpolation, g)),
                            "test": ArraySplit(*self.sample(self.test_size, self.extrapolation, g))}
        return self._splits

    def loss(self, output, batch):
        import torch.nn.functional as F

        if output.shape != batch[1].shape:
            raise ValueError(f"output of shape {tuple(output.shape)} does not match targets {tuple(batch[1].shape)}")
        return F.mse_loss(output, batch[1])

    def metrics(self) -> dict:
        return {"mse": standard_metrics("forecasting")["mse"], **standard_metrics("regression")}
