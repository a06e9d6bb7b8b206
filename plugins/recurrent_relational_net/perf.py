"""Speed of `recurrent-relational-net`: one message-passing step (messages f on the constraint
graph's edges, their sum, the LSTM update, the readout), forward and backward, on a batch of 32
puzzles, against the same step written densely in plain PyTorch (f on all n^2 x n^2 cell pairs,
masked by the adjacency matrix, then summed), for 4x4 and 9x9 grids; and the forward time of a whole
4x4 solve as the number of steps grows. Interleaved, medians, at 1 thread and the default count.

    zoo reproduce recurrent-relational-net --part perf
"""

from __future__ import annotations

import time

import torch

import zoo
from zoo.reproduce import Run
from zoo.timing import interleaved, medians

BATCH = 32


def dense_step(model, x, hidden, state, adjacency):
    """One step with every cell pair through f, masked by the adjacency: the obvious dense form."""
    b, n, h = hidden.shape
    pairs = torch.cat([hidden.unsqueeze(2).expand(b, n, n, h), hidden.unsqueeze(1).expand(b, n, n, h)], -1)
    m = (model.message(pairs) * adjacency[None, :, :, None]).sum(1)
    new, cell = model.update(torch.cat([x, m], -1).reshape(-1, 2 * h), (hidden.reshape(-1, h), state.reshape(-1, h)))
    return model.readout(new).sum()


def sparse_step(model, x, hidden, state):
    """One step as the model runs it (edge list, index_add)."""
    b, n, h = hidden.shape
    m = model.messages(hidden)
    new, cell = model.update(torch.cat([x, m], -1).reshape(-1, 2 * h), (hidden.reshape(-1, h), state.reshape(-1, h)))
    return model.readout(new).sum()


def timed_backward(fn) -> float:
    start = time.perf_counter()
    fn().backward()
    return time.perf_counter() - start


def timed_forward(fn) -> float:
    start = time.perf_counter()
    with torch.no_grad():
        fn()
    return time.perf_counter() - start


def reproduce(run: Run) -> None:
    rounds = run.pick(5, 1)
    default_threads = torch.get_num_threads()
    torch.manual_seed(0)
    runs = {}
    for box in (2, 3):
        model = zoo.create("recurrent-relational-net", box_size=box)
        n = box ** 4
        puzzle = torch.randint(0, box * box + 1, (BATCH, n))
        x = model.node_inputs(puzzle).detach()
        hidden, state = torch.randn_like(x, requires_grad=True), torch.randn_like(x)
        adjacency = torch.zeros(n, n)
        adjacency[model.senders, model.receivers] = 1.0
        grid = f"{box * box}x{box * box}"
        runs[f"{grid} step, edge list (zoo)"] = (lambda m=model, a=(x, hidden, state): timed_backward(
            lambda: sparse_step(m, *a)))
        runs[f"{grid} step, dense all pairs"] = (lambda m=model, a=(x, hidden, state), adj=adjacency: timed_backward(
            lambda: dense_step(m, *a, adj)))
    small = zoo.create("recurrent-relational-net", variant="4x4")
    puzzles = torch.randint(0, 5, (BATCH, 16))
    for steps in (1, 4, 16):
        runs[f"4x4 forward, {steps} steps"] = (lambda s=steps: timed_forward(lambda: small(puzzles, steps=s)))
    results, rows = {}, []
    for threads in sorted({1, default_threads}):
        torch.set_num_threads(threads)
        med = medians(interleaved(runs, rounds, warmup=1))
        results[threads] = med
        rows += [[threads, name, f"{value * 1e3:.2f}"] for name, value in med.items()]
    torch.set_num_threads(default_threads)
    one = results[1]
    summary = (f"1 thread, batch {BATCH}, forward+backward of one step: 4x4 {one['4x4 step, edge list (zoo)'] * 1e3:.1f} "
               f"ms on the edge list vs {one['4x4 step, dense all pairs'] * 1e3:.1f} ms dense; 9x9 "
               f"{one['9x9 step, edge list (zoo)'] * 1e3:.1f} ms vs {one['9x9 step, dense all pairs'] * 1e3:.1f} ms "
               f"(the dense form runs f on all n^2 pairs, 81x81 for 9x9, where 81x20 are edges). A 4x4 solve's "
               f"forward grows linearly with the steps: " + ", ".join(
                   f"{s} steps {one[f'4x4 forward, {s} steps'] * 1e3:.1f} ms" for s in (1, 4, 16))
               + f". Medians of {rounds} interleaved rounds.")
    print(summary)
    run.record("perf", claim="one message-passing step against the dense all-pairs form, and time per number of steps",
               verdict="measured", summary=summary,
               setup=f"CPU, threads 1 and {default_threads}, batch {BATCH}, paper sizes (hidden 96, 3-layer MLPs), "
                     f"{rounds} interleaved rounds, medians",
               table={"columns": ["threads", "run", "median ms"], "rows": rows},
               data={str(k): v for k, v in results.items()})
