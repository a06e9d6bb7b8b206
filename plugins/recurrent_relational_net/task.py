"""Generated Sudoku puzzles with unique solutions, and the task `recurrent-relational-net/sudoku-4x4`.

4x4 grids (2x2 boxes): every one of the 288 valid grids is enumerated once; a puzzle is a random
grid with cells removed in random order as long as the puzzle keeps exactly one solution among
them (checked against all 288 grids), down to a target number of givens drawn from [4, 10]; the
removal stops earlier when no cell can go (a minimal puzzle). Every puzzle therefore has a unique
solution, and the task spans easy puzzles (10 givens) to the hardest (4, the fewest a 4x4 puzzle
can have). No 9x9 generator: removing cells while a solver proves uniqueness takes seconds per 9x9
puzzle in Python, and training on 9x9 is out of the CPU budget anyway.
"""

from __future__ import annotations

import itertools
from functools import lru_cache

import numpy as np

from zoo.tasks import ArraySplit, Task, TaskInfo, standard_metrics

__all__ = ["SudokuTask", "all_grids", "generate_puzzles", "is_valid_grid"]

GIVENS = (4, 10)


def is_valid_grid(grid: np.ndarray, box_size: int) -> bool:
    """Whether a full (n, n) grid of digits 1..n has every digit once per row, column and box."""
    n = box_size * box_size
    grid = np.asarray(grid).reshape(n, n)
    full = set(range(1, n + 1))
    boxes = grid.reshape(box_size, box_size, box_size, box_size).transpose(0, 2, 1, 3).reshape(n, n)
    return all(set(line) == full for group in (grid, grid.T, boxes) for line in group.tolist())


@lru_cache(maxsize=1)
def _grids() -> np.ndarray:
    rows = list(itertools.permutations(range(1, 5)))
    found = []

    def extend(grid: list) -> None:  # rows one by one, keeping columns and 2x2 boxes distinct
        if len(grid) == 4:
            found.append(np.array(grid))
            return
        for row in rows:
            fits = all(row[c] != g[c] for g in grid for c in range(4))
            if fits and len(grid) % 2 == 1:  # second row of a band: boxes hold 4 distinct digits
                fits = all(len({grid[-1][c], grid[-1][c + 1], row[c], row[c + 1]}) == 4 for c in (0, 2))
            if fits:
                extend(grid + [row])

    extend([])
    grids = np.stack(found).reshape(len(found), 16)
    grids.setflags(write=False)
    return grids


def all_grids() -> np.ndarray:
    """(288, 16) every valid 4x4 grid, row-major (read-only)."""
    return _grids()


def generate_puzzles(count: int, seed: int, givens: tuple[int, int] = GIVENS) -> tuple[np.ndarray, np.ndarray]:
    """(puzzles (count, 16), solutions (count, 16)) int64 4x4 puzzles with unique solutions, seeded."""
    rng = np.random.default_rng(seed)
    grids = all_grids()
    bits = 1 << np.arange(16)
    puzzles, solutions = np.zeros((count, 16), np.int64), np.zeros((count, 16), np.int64)
    for k in range(count):
        solution = grids[rng.integers(len(grids))]
        agree = ((grids == solution) * bits).sum(1)  # per grid: the cells where it agrees with the solution
        target = int(rng.integers(givens[0], givens[1] + 1))
        keep = (1 << 16) - 1
        for cell in rng.permutation(16):
            if bin(keep).count("1") <= target:
                break
            trial = keep & ~(1 << int(cell))
            if int(((agree & trial) == trial).sum()) == 1:  # only the solution fits the givens left
                keep = trial
        given = (keep & bits) > 0
        puzzles[k], solutions[k] = np.where(given, solution, 0), solution
    return puzzles, solutions


class SudokuTask(Task):
    """`recurrent-relational-net/sudoku-4x4`: fill a 4x4 Sudoku grid.

    Options: train_size, val_size, test_size, seed. Batches are (puzzle (16,) int64 digits 1..4 or 0
    for empty, solution (16,) int64 digits 0..3 standing for 1..4). Metrics: accuracy over cells and
    exact_match, the fraction of puzzles solved (every cell right).
    """

    kind = "sequence"
    name = "recurrent-relational-net/sudoku-4x4"

    def __init__(self, train_size: int = 10000, val_size: int = 500, test_size: int = 1000, seed: int = 0):
        if train_size < 1 or val_size < 1 or test_size < 1:
            raise ValueError(f"need train_size, val_size, test_size >= 1; got {train_size}, {val_size}, {test_size}")
        self.train_size, self.val_size, self.test_size, self.seed = train_size, val_size, test_size, seed
        self.info = TaskInfo(kind=self.kind, input_shape=(16,), output_dim=4, num_classes=4,
                             extra={"box_size": 2, "givens": list(GIVENS)})
        self._splits = None

    def splits(self) -> dict:
        if self._splits is None:
            made = {}
            for offset, (split, size) in enumerate((("train", self.train_size), ("val", self.val_size),
                                                    ("test", self.test_size))):
                puzzles, solutions = generate_puzzles(size, self.seed * 3 + offset)
                made[split] = ArraySplit(puzzles, solutions - 1)
            self._splits = made
        return self._splits

    def loss(self, output, batch):
        import torch.nn.functional as F

        return F.cross_entropy(output.reshape(-1, output.shape[-1]), batch[1].reshape(-1))

    def metrics(self) -> dict:
        return standard_metrics("sequence", num_classes=4, positions=True)
