"""The recurrent relational network of Palm, Paquet and Winther (2018, arXiv:1711.08028) for Sudoku.

Each cell j of a b^2 x b^2 grid is a node; its neighbours N(j) are the other cells of its row, column
and box (20 for 9x9, 7 for 4x4). Paper Sec. 2 and 3 (Sudoku):

    x_j = MLP(concat(embed(digit_j), embed(row_j), embed(column_j)))       input features (0 = empty)
    h_j^0 = x_j
    m_ij^t = f(h_i^{t-1}, h_j^{t-1})                                        message MLP on edge (i, j)   (Eq. 1)
    m_j^t = sum_{i in N(j)} m_ij^t                                          sum over neighbours           (Eq. 2)
    h_j^t, s_j^t = g(h_j^{t-1}, s_j^{t-1}, concat(x_j, m_j^t))               LSTM node update              (Eq. 3)
    o_j^t = r(h_j^t)                                                         digit logits                  (Eq. 4)

and the loss is the cross entropy of o^t summed over the cells, at every step, averaged over the
steps (Eq. 5: l = (1/T) sum_t l^t), so every step is pushed toward the solution.

Departure: the losses are means over cells (not sums), which only rescales the learning rate. The
paper's MLPs are "3 layers of 96 ReLU units"; here `mlp_layers` linear layers with ReLU between
them and a linear last layer, and r is one linear layer, as in the paper's Sudoku set-up.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .config import RRNConfig

__all__ = ["RecurrentRelationalNetwork", "sudoku_edges", "mlp"]


def sudoku_edges(box_size: int) -> torch.Tensor:
    """(2, E) directed edges (sender i, receiver j) between cells sharing a row, column or box."""
    n = box_size * box_size

    def related(i: int, j: int) -> bool:
        (ri, ci), (rj, cj) = divmod(i, n), divmod(j, n)
        return i != j and (ri == rj or ci == cj or (ri // box_size == rj // box_size and ci // box_size == cj // box_size))

    # built from Python lists: the zoo sizes models on the meta device, where nonzero() cannot run
    pairs = [(i, j) for j in range(n * n) for i in range(n * n) if related(i, j)]
    return torch.tensor(pairs, dtype=torch.long).T.contiguous()


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given sizes with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class RecurrentRelationalNetwork(nn.Module):
    """RRN solving b^2 x b^2 Sudoku puzzles.

    forward(puzzle, steps=None) -> digit logits after the last step (B, cells, digits), digits
      0..n-1 standing for 1..n.
      puzzle: (B, cells) int64, the given digit 1..n of each cell in row-major order, 0 if empty.
    step_logits(puzzle, steps) -> (steps, B, cells, digits), the output o^t of every step.
    """

    def __init__(self, config: RRNConfig | None = None):
        super().__init__()
        self.config = config = config or RRNConfig()
        n, h, e = config.box_size ** 2, config.hidden_dim, config.embedding_dim
        self.digits, self.cells = n, n * n
        self.digit_embedding = nn.Embedding(n + 1, e)
        self.row_embedding = nn.Embedding(n, e)
        self.column_embedding = nn.Embedding(n, e)
        self.input_mlp = mlp([3 * e] + [h] * config.mlp_layers)
        self.message = mlp([2 * h] + [h] * config.mlp_layers)  # f
        self.update = nn.LSTMCell(2 * h, h)                      # g, input concat(x_j, m_j)
        self.readout = nn.Linear(h, n)                           # r
        edges = sudoku_edges(config.box_size)
        self.register_buffer("senders", edges[0], persistent=False)
        self.register_buffer("receivers", edges[1], persistent=False)
        cells = torch.arange(self.cells)
        self.register_buffer("rows", cells // n, persistent=False)
        self.register_buffer("columns", cells % n, persistent=False)

    def _check(self, puzzle: torch.Tensor) -> None:
        if not isinstance(puzzle, torch.Tensor):
            raise TypeError(f"RRN: puzzle must be a torch.Tensor of digits, got {type(puzzle).__name__}")
        if puzzle.dtype != torch.int64:
            raise TypeError(f"RRN: puzzle must hold int64 digits (0 = empty), got {puzzle.dtype}")
        if puzzle.dim() != 2 or puzzle.shape[1] != self.cells:
            raise ValueError(f"RRN: puzzle must be (batch, {self.cells}) for a {self.digits}x{self.digits} grid "
                             f"(box_size {self.config.box_size}), got shape {tuple(puzzle.shape)}")
        # value checks run in eager mode only: tracing (torch.export, ONNX) cannot branch on tensor values
        if (not torch.compiler.is_compiling()
                and puzzle.numel() and (int(puzzle.min()) < 0 or int(puzzle.max()) > self.digits)):
            raise ValueError(f"RRN: puzzle digits must lie in [0, {self.digits}], got "
                             f"[{int(puzzle.min())}, {int(puzzle.max())}]")

    def node_inputs(self, puzzle: torch.Tensor) -> torch.Tensor:
        """x_j = MLP(concat(embed(digit), embed(row), embed(column))), (B, cells, h)."""
        b = puzzle.shape[0]
        features = torch.cat([self.digit_embedding(puzzle),
                              self.row_embedding(self.rows).expand(b, -1, -1),
                              self.column_embedding(self.columns).expand(b, -1, -1)], -1)
        return self.input_mlp(features)

    def messages(self, hidden: torch.Tensor) -> torch.Tensor:
        """m_j = sum_{i in N(j)} f(h_i, h_j) (Eq. 1-2), (B, cells, h)."""
        pairs = torch.cat([hidden[:, self.senders], hidden[:, self.receivers]], -1)
        out = torch.zeros_like(hidden)
        return out.index_add_(1, self.receivers, self.message(pairs))

    def step_logits(self, puzzle: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """(steps, B, cells, digits): o^t = r(h^t) for t = 1..steps (Eq. 1-4)."""
        self._check(puzzle)
        steps = self.config.steps if steps is None else steps
        if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
            raise ValueError(f"RRN: steps must be a positive int, got {steps!r}")
        b, h = puzzle.shape[0], self.config.hidden_dim
        x = self.node_inputs(puzzle)
        hidden, state = x, torch.zeros_like(x)  # h^0 = x
        outputs = []
        for _ in range(steps):
            m = self.messages(hidden)
            hidden, state = self.update(torch.cat([x, m], -1).reshape(-1, 2 * h),
                                        (hidden.reshape(-1, h), state.reshape(-1, h)))
            hidden, state = hidden.view(b, self.cells, h), state.view(b, self.cells, h)
            outputs.append(self.readout(hidden))
        return torch.stack(outputs)

    def forward(self, puzzle: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        return self.step_logits(puzzle, steps)[-1]

    def step_loss(self, puzzle: torch.Tensor, solution: torch.Tensor, steps: int | None = None) -> torch.Tensor:
        """Eq. 5: the cross entropy of every step's output, averaged over the steps (and cells)."""
        logits = self.step_logits(puzzle, steps)
        if solution.shape != puzzle.shape:
            raise ValueError(f"RRN: solution must have the puzzle's shape {tuple(puzzle.shape)}, got {tuple(solution.shape)}")
        return F.cross_entropy(logits.reshape(-1, self.digits), solution.repeat(logits.shape[0], 1).reshape(-1))

    def training_step(self, batch, step) -> dict:
        """One update on the loss of every step (Eq. 5), with the run's optimizer."""
        loss = self.step_loss(batch[0], batch[1])
        step.zero_grad()
        step.backward(loss)
        step.step()
        return {"loss": float(loss.detach())}
