"""PaperZoo plugin for Recurrent Relational Networks (Palm, Paquet and Winther, 2018, arXiv:1711.08028).

Provides the model `recurrent-relational-net`: node embeddings from digit, row and column, a message
MLP f on the edges of the Sudoku constraint graph, sum aggregation, an LSTM node update g and an
output layer r, with a loss at every step (the paper's Sudoku model; 96 hidden units, 3-layer MLPs,
32 steps, 9x9 by default; variant `4x4` for the CPU). And the task
`recurrent-relational-net/sudoku-4x4`: generated 4x4 puzzles with unique solutions and 4 to 10 givens.

Departures from the paper: the reproduction trains on 4x4 puzzles (9x9 training is beyond a CPU
budget, and no 9x9 generator ships: proving uniqueness is too slow in Python), with fewer steps
(8 in training) because a 4x4 grid needs far fewer; losses are averaged over cells instead of
summed (a rescaled learning rate). Importing this module is cheap; torch is imported when a model
or task is first built.
"""

from __future__ import annotations

from zoo import ModelSpec, TaskSpec, hookimpl


def _build(config):
    from .model import RecurrentRelationalNetwork

    return RecurrentRelationalNetwork(config)


def _example_inputs(config, batch_size: int) -> tuple:
    import torch

    digits = config.box_size ** 2
    puzzle = torch.randint(0, digits + 1, (batch_size, digits * digits))
    return (puzzle,)


def _from_task(values: dict, info) -> dict:
    return {"box_size": info.extra["box_size"]}


def _sudoku(**options):
    from .task import SudokuTask

    return SudokuTask(**options)


@hookimpl
def zoo_models() -> list[ModelSpec]:
    from .config import RRNConfig

    return [ModelSpec("recurrent-relational-net", RRNConfig, _build, example_inputs=_example_inputs,
                      from_task=_from_task)]


@hookimpl
def zoo_tasks() -> list[TaskSpec]:
    return [TaskSpec("recurrent-relational-net/sudoku-4x4", _sudoku)]
